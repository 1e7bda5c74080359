#include "dfota/error.h"

const char *dfota_strerror(int err)
{
    switch (err) {
    case DFOTA_OK:            return "success";
    case DFOTA_ERR_IO:        return "flash I/O error";
    case DFOTA_ERR_ARG:       return "invalid argument or configuration";
    case DFOTA_ERR_MAGIC:     return "not a dfota package (bad magic)";
    case DFOTA_ERR_VERSION:   return "unsupported package format version";
    case DFOTA_ERR_HEADER:    return "inconsistent package header";
    case DFOTA_ERR_SIZE:      return "package size does not match its header (truncated or padded)";
    case DFOTA_ERR_PRODUCT:   return "package is for another product";
    case DFOTA_ERR_SOURCE:    return "package was not built from this firmware (source digest mismatch)";
    case DFOTA_ERR_PAYLOAD:   return "package payload is corrupt (digest mismatch)";
    case DFOTA_ERR_SIGNATURE: return "package signature is invalid";
    case DFOTA_ERR_ALGORITHM: return "delta algorithm unknown or not compiled in";
    case DFOTA_ERR_CORRUPT:   return "package payload is corrupt (undecodable)";
    case DFOTA_ERR_TARGET:    return "result does not match the target digest";
    case DFOTA_ERR_LAYOUT:    return "package was made for another flash layout";
    case DFOTA_ERR_NOSPACE:   return "image or package does not fit its flash region";
    case DFOTA_ERR_DOWNGRADE: return "package security counter is lower than the device's";
    case DFOTA_ERR_JOURNAL:   return "update journal is inconsistent";
    case DFOTA_ERR_STATE:     return "operation not valid in this state";
    case DFOTA_ERR_RAM:       return "package needs more decoder RAM than this build has (see --decoder-ram)";
    default:                  return "unknown error";
    }
}
