/* dfota - error codes shared by the device library and the host tools. */
#ifndef DFOTA_ERROR_H
#define DFOTA_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* One enum for the whole library. Values are stable: they appear in logs,
 * journals and tests. Success is 0, errors are negative. */
enum dfota_err {
    DFOTA_OK                =   0,
    DFOTA_ERR_IO            =  -1,  /* the flash port reported a failure */
    DFOTA_ERR_ARG           =  -2,  /* bad argument or configuration */
    DFOTA_ERR_MAGIC         =  -3,  /* not a dfota package */
    DFOTA_ERR_VERSION       =  -4,  /* unknown package format version */
    DFOTA_ERR_HEADER        =  -5,  /* header fields inconsistent */
    DFOTA_ERR_SIZE          =  -6,  /* sizes do not add up (truncated or too long) */
    DFOTA_ERR_PRODUCT       =  -7,  /* package is for another product */
    DFOTA_ERR_SOURCE        =  -8,  /* source firmware digest differs (BC20 254) */
    DFOTA_ERR_PAYLOAD       =  -9,  /* payload digest mismatch */
    DFOTA_ERR_SIGNATURE     = -10,  /* signature invalid or key unknown */
    DFOTA_ERR_ALGORITHM     = -11,  /* unknown delta algorithm or coder, or not compiled in */
    DFOTA_ERR_CORRUPT       = -12,  /* payload decodes to something impossible */
    DFOTA_ERR_TARGET        = -13,  /* result digest differs from the package's */
    DFOTA_ERR_LAYOUT        = -14,  /* package made for another flash layout */
    DFOTA_ERR_NOSPACE       = -15,  /* image does not fit its region, or staging the package and its digest table */
    DFOTA_ERR_DOWNGRADE     = -16,  /* security counter lower than the device's */
    DFOTA_ERR_JOURNAL       = -17,  /* journal unreadable or inconsistent */
    DFOTA_ERR_STATE         = -18,  /* call not valid in this state */
    DFOTA_ERR_RAM           = -19,  /* package needs more decoder RAM than this build has */
};

/* A short constant English text for an error code, never NULL. */
const char *dfota_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
