/* dfota CLI: Ed25519 key files. The forms dfota keygen writes are read
 * here; OpenSSL's libcrypto, loaded on first need, reads every other form
 * (PEM or DER, PKCS#8 encrypted or not, SubjectPublicKeyInfo); libsodium
 * signs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/ui.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "util.h"

#define KEY_FILE_MAX 65536

/* libcrypto through dlopen: linked, it costs every dfota command ~1.5 MB of
 * memory at start (relocations), and most never need it. The headers give
 * the types; the calls below go through this table. */
#define OSSL_FUNCS(F)                                                                              \
    F(EVP_read_pw_string) F(BIO_new_mem_buf) F(PEM_read_bio_PrivateKey) F(BIO_ctrl)              \
    F(PEM_read_bio_PUBKEY) F(d2i_AutoPrivateKey) F(d2i_X509_SIG) F(PKCS8_decrypt)              \
    F(EVP_PKCS82PKEY) F(PKCS8_PRIV_KEY_INFO_free) F(X509_SIG_free) F(d2i_PUBKEY) F(BIO_free)    \
    F(ERR_clear_error) F(EVP_PKEY_get_id) F(OBJ_nid2sn) F(EVP_PKEY_get_raw_public_key)          \
    F(EVP_PKEY_get_raw_private_key) F(EVP_PKEY_free)
#define OSSL_FIELD(f) __typeof__(f) *f;
static struct {
    OSSL_FUNCS(OSSL_FIELD)
} ossl;
static int ossl_loaded;

static int load_libcrypto(const char *path)
{
    static const char *const names[] = { "libcrypto.so.3", "libcrypto.so" };
    void *lib = NULL, *p;
    size_t i;

    if (ossl_loaded)
        return 0;
    for (i = 0; !lib && i < sizeof names / sizeof names[0]; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        cli_err("'%s': this key form needs OpenSSL's libcrypto (libcrypto.so.3): %s", path,
                dlerror());
        return -1;
    }
#define OSSL_SYM(f)                                                                                \
    if (!(p = dlsym(lib, #f))) {                                                                   \
        cli_err("'%s': libcrypto lacks %s", path, #f);                                            \
        dlclose(lib);                                                                              \
        return -1;                                                                                 \
    }                                                                                              \
    memcpy(&ossl.f, &p, sizeof p);
    OSSL_FUNCS(OSSL_SYM)
#undef OSSL_SYM
    ossl_loaded = 1;
    return 0;
}
#define EVP_read_pw_string ossl.EVP_read_pw_string
#define BIO_new_mem_buf ossl.BIO_new_mem_buf
#define PEM_read_bio_PrivateKey ossl.PEM_read_bio_PrivateKey
#define BIO_ctrl ossl.BIO_ctrl
#define PEM_read_bio_PUBKEY ossl.PEM_read_bio_PUBKEY
#define d2i_AutoPrivateKey ossl.d2i_AutoPrivateKey
#define d2i_X509_SIG ossl.d2i_X509_SIG
#define PKCS8_decrypt ossl.PKCS8_decrypt
#define EVP_PKCS82PKEY ossl.EVP_PKCS82PKEY
#define PKCS8_PRIV_KEY_INFO_free ossl.PKCS8_PRIV_KEY_INFO_free
#define X509_SIG_free ossl.X509_SIG_free
#define d2i_PUBKEY ossl.d2i_PUBKEY
#define BIO_free ossl.BIO_free
#define ERR_clear_error ossl.ERR_clear_error
#define EVP_PKEY_get_id ossl.EVP_PKEY_get_id
#define OBJ_nid2sn ossl.OBJ_nid2sn
#define EVP_PKEY_get_raw_public_key ossl.EVP_PKEY_get_raw_public_key
#define EVP_PKEY_get_raw_private_key ossl.EVP_PKEY_get_raw_private_key
#define EVP_PKEY_free ossl.EVP_PKEY_free

static const uint8_t PKCS8_PREFIX[16] = { 0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
                                          0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20 };
static const uint8_t SPKI_PREFIX[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                         0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };

void cli_key_id(const uint8_t pk[32], uint8_t kid[8])
{
    uint8_t d[32];
    crypto_hash_sha256(d, pk, 32);
    memcpy(kid, d, 8);
}

struct pw_ctx {
    const char *path;
    const struct cli_pass *pass;
    int asked;
    int failed;   /* the passphrase source itself failed (message printed) */
};

/* The passphrase: --pass-file (first line), --pass-env, or a prompt on the
 * terminal. */
static int pw_cb(char *buf, int size, int rwflag, void *u)
{
    struct pw_ctx *c = u;
    const char *src = NULL;
    size_t n;

    c->asked = 1;
    if (c->pass && c->pass->file) {
        uint8_t *t;
        size_t tl;
        if (cli_read_input(c->pass->file, "a passphrase file", 4096, &t, &tl)) {
            c->failed = 1;
            return -1;
        }
        for (n = 0; n < tl && t[n] != '\n' && t[n] != '\r'; n++)
            ;
        if (n >= (size_t)size)
            n = (size_t)size - 1;
        memcpy(buf, t, n);
        sodium_memzero(t, tl);
        free(t);
        return (int)n;
    }
    if (c->pass && c->pass->env) {
        src = getenv(c->pass->env);
        if (!src) {
            cli_err("'%s' is encrypted and the environment variable %s is not set", c->path,
                    c->pass->env);
            c->failed = 1;
            return -1;
        }
        n = strlen(src);
        if (n >= (size_t)size)
            n = (size_t)size - 1;
        memcpy(buf, src, n);
        return (int)n;
    }
    if (!isatty(STDIN_FILENO)) {
        int fd = open("/dev/tty", O_RDWR);
        if (fd < 0) {
            cli_err("'%s' is encrypted: give --pass-file FILE or --pass-env VAR (no terminal to "
                    "ask on)", c->path);
            c->failed = 1;
            return -1;
        }
        close(fd);
    }
    {
        char prompt[300];
        snprintf(prompt, sizeof prompt, "passphrase for %s: ", c->path);
        if (EVP_read_pw_string(buf, size, prompt, 0) != 0) {
            c->failed = 1;
            cli_err("'%s': no passphrase read", c->path);
            return -1;
        }
    }
    return (int)strlen(buf);
}

/* The forms dfota keygen writes (unencrypted PKCS#8 and SubjectPublicKeyInfo
 * of an Ed25519 key, PEM or DER), read without OpenSSL: its start-up (the
 * providers, the config, the name tables) costs a few MB of memory, which
 * is most of what dfota diff needs on small images. Any other form (or any
 * other text around the PEM block) goes to libcrypto. Returns 1 when the
 * key was read (*priv: a seed was found; out_pk set either way), else 0. */
static int plain_key(const uint8_t *buf, size_t len, uint8_t out_seed[32], uint8_t out_pk[32],
                     int *priv)
{
    uint8_t der[64], sk[64];
    size_t n = len, i = 0, e;
    const uint8_t *d = buf;

    if (len > 10 && buf[0] != 0x30) {
        static const char *const labels[] = { "PRIVATE KEY", "PUBLIC KEY" };
        char head[40], tail[40];
        const char *text = (const char *)buf, *body = NULL, *end = NULL;
        size_t k;
        while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
            i++;
        for (k = 0; k < 2 && !body; k++) {
            snprintf(head, sizeof head, "-----BEGIN %s-----", labels[k]);
            snprintf(tail, sizeof tail, "-----END %s-----", labels[k]);
            if (len - i > strlen(head) && !memcmp(text + i, head, strlen(head))) {
                body = text + i + strlen(head);
                end = memmem(body, len - (size_t)(body - text), tail, strlen(tail));
            }
        }
        if (!body || !end)
            return 0;
        for (e = (size_t)(end - text) + strlen(tail); e < len; e++)
            if (buf[e] != ' ' && buf[e] != '\t' && buf[e] != '\r' && buf[e] != '\n')
                return 0;   /* something after the block */
        if (sodium_base642bin(der, sizeof der, body, (size_t)(end - body), " \t\r\n", &n, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0)
            return 0;
        d = der;
    }
    if (n == 48 && !memcmp(d, PKCS8_PREFIX, 16) && sodium_init() >= 0) {
        memcpy(out_seed, d + 16, 32);
        crypto_sign_ed25519_seed_keypair(out_pk, sk, out_seed);
        sodium_memzero(sk, sizeof sk);
        *priv = 1;
    } else if (n == 44 && !memcmp(d, SPKI_PREFIX, 12)) {
        memcpy(out_pk, d + 12, 32);
        *priv = 0;
    } else {
        sodium_memzero(der, sizeof der);
        return 0;
    }
    sodium_memzero(der, sizeof der);
    return 1;
}

/* Parse any supported key form; *pkey is an Ed25519 key. priv: a secret
 * key was found. Returns 0, or an exit code (message printed). */
static int load_key(const char *path, const struct cli_pass *pass, int want_secret,
                    uint8_t out_seed[32], uint8_t out_pk[32], int *priv)
{
    uint8_t *buf;
    size_t len;
    EVP_PKEY *k = NULL;
    BIO *bio;
    struct pw_ctx pc = { path, pass, 0, 0 };
    int rc;

    if ((rc = cli_read_input(path, "a key file", KEY_FILE_MAX, &buf, &len)))
        return rc;
    *priv = 0;
    if (len == 32) {               /* raw: a public key as a device embeds it */
        if (want_secret == 1) {
            /* never take 32 raw bytes as a seed: a public key given by
             * mistake would sign with a key nobody has */
            free(buf);
            cli_err("'%s' is 32 raw bytes (a public key?); signing needs the private key (PEM or "
                    "DER PKCS#8)", path);
            return EXIT_IO;
        }
        memcpy(out_pk, buf, 32);
        free(buf);
        return 0;
    }
    if (plain_key(buf, len, out_seed, out_pk, priv)) {
        sodium_memzero(buf, len);
        free(buf);
        goto got;
    }
    if (load_libcrypto(path)) {
        sodium_memzero(buf, len);
        free(buf);
        return EXIT_IO;
    }
    bio = BIO_new_mem_buf(buf, (int)len);
    if (bio && len > 10 && memmem(buf, len, "-----BEGIN", 10)) {
        int enc = memmem(buf, len, "ENCRYPTED", 9) != NULL;
        k = PEM_read_bio_PrivateKey(bio, NULL, pw_cb, &pc);
        if (!k && !pc.failed && !enc) {
            BIO_reset(bio);
            k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        } else if (k) {
            *priv = 1;
        } else if (!pc.failed && pc.asked) {
            cli_err("'%s': cannot decrypt the key (wrong passphrase?)", path);
            pc.failed = 1;
        }
    } else if (bio) {
        const unsigned char *p = buf;
        k = d2i_AutoPrivateKey(NULL, &p, (long)len);
        if (k) {
            *priv = 1;
        } else {
            X509_SIG *p8;
            p = buf;
            p8 = d2i_X509_SIG(NULL, &p, (long)len);
            if (p8) {          /* encrypted PKCS#8, DER */
                char pw[1024];
                int n = pw_cb(pw, sizeof pw, 0, &pc);
                if (n >= 0) {
                    PKCS8_PRIV_KEY_INFO *inf = PKCS8_decrypt(p8, pw, n);
                    sodium_memzero(pw, sizeof pw);
                    if (inf) {
                        k = EVP_PKCS82PKEY(inf);
                        PKCS8_PRIV_KEY_INFO_free(inf);
                        *priv = k != NULL;
                    } else {
                        cli_err("'%s': cannot decrypt the key (wrong passphrase?)", path);
                        pc.failed = 1;
                    }
                }
                X509_SIG_free(p8);
            } else {
                p = buf;
                k = d2i_PUBKEY(NULL, &p, (long)len);
            }
        }
    }
    BIO_free(bio);
    sodium_memzero(buf, len);
    free(buf);
    ERR_clear_error();
    if (!k) {
        if (!pc.failed)
            cli_err("'%s' is not an Ed25519 %s key (PEM or DER %s, or raw 32 bytes)", path,
                    want_secret == 1 ? "private" : "public",
                    want_secret == 1 ? "PKCS#8, encrypted or not" : "SubjectPublicKeyInfo");
        return EXIT_IO;
    }
    if (EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
        cli_err("'%s' is a %s key, not Ed25519", path, OBJ_nid2sn(EVP_PKEY_id(k)));
        EVP_PKEY_free(k);
        return EXIT_IO;
    }
    {
        size_t pl = 32, sl = 32;
        if (EVP_PKEY_get_raw_public_key(k, out_pk, &pl) != 1 || pl != 32 ||
            (*priv && (EVP_PKEY_get_raw_private_key(k, out_seed, &sl) != 1 || sl != 32))) {
            cli_err("'%s': cannot read the raw Ed25519 key", path);
            EVP_PKEY_free(k);
            return EXIT_IO;
        }
    }
    EVP_PKEY_free(k);
got:
    if (want_secret == 1 && !*priv) {
        cli_err("'%s' is a public key; signing needs the private key", path);
        return EXIT_IO;
    }
    if (want_secret == 0 && *priv) {
        sodium_memzero(out_seed, 32);
        cli_err("'%s' is a private key; give the public key (KEY.pub)", path);
        return EXIT_IO;
    }
    return 0;
}

int cli_read_secret_key(const char *path, const struct cli_pass *pass, uint8_t sk[64])
{
    uint8_t seed[32], pk[32], pk2[32];
    int priv, rc;

    if ((rc = load_key(path, pass, 1, seed, pk, &priv)))
        return rc;
    if (sodium_init() < 0 || crypto_sign_ed25519_seed_keypair(pk2, sk, seed)) {
        cli_err("cannot derive a key pair from '%s'", path);
        return EXIT_INTERNAL;
    }
    sodium_memzero(seed, sizeof seed);
    return 0;
}

int cli_read_public_key(const char *path, const struct cli_pass *pass, uint8_t pk[32])
{
    uint8_t seed[32];
    int priv, rc = load_key(path, pass, 0, seed, pk, &priv);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

int cli_read_any_key(const char *path, const struct cli_pass *pass, uint8_t pk[32])
{
    uint8_t seed[32];
    int priv, rc = load_key(path, pass, 2, seed, pk, &priv);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

static int pem_text(const char *label, const uint8_t *der, size_t n, char **out, size_t *olen)
{
    char b64[256];
    size_t cap = 2 * sizeof b64;
    char *t = malloc(cap);
    if (!t)
        return -1;
    sodium_bin2base64(b64, sizeof b64, der, n, sodium_base64_VARIANT_ORIGINAL);
    *olen = (size_t)snprintf(t, cap, "-----BEGIN %s-----\n%s\n-----END %s-----\n", label, b64,
                             label);
    *out = t;
    return 0;
}

int cli_key_pem(const uint8_t pk[32], const uint8_t sk[64], char **sec, size_t *slen, char **pub,
                size_t *plen)
{
    uint8_t der[48];
    int rc;

    memcpy(der, PKCS8_PREFIX, 16);
    memcpy(der + 16, sk, 32);            /* the seed is the first half */
    rc = pem_text("PRIVATE KEY", der, 48, sec, slen);
    sodium_memzero(der, sizeof der);
    if (rc)
        return -1;
    memcpy(der, SPKI_PREFIX, 12);
    memcpy(der + 12, pk, 32);
    if (pem_text("PUBLIC KEY", der, 44, pub, plen)) {
        sodium_memzero(*sec, *slen);
        free(*sec);
        return -1;
    }
    return 0;
}
