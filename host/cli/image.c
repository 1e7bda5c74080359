/* dfota CLI: firmware images as raw binaries, Intel HEX or ELF, flattened
 * to the bytes a device holds from a base address; gaps are 0xFF (erased
 * NOR flash). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

struct seg {
    uint64_t addr;
    const uint8_t *data;
    size_t len;
};

struct segs {
    struct seg *v;
    size_t n, cap;
};

static int seg_push(struct segs *s, uint64_t addr, const uint8_t *data, size_t len)
{
    if (!len)
        return 0;
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 64;
        struct seg *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        s->v = nv;
        s->cap = nc;
    }
    s->v[s->n].addr = addr;
    s->v[s->n].data = data;
    s->v[s->n].len = len;
    s->n++;
    return 0;
}

/* Lay the segments out from base (UINT64_MAX: the lowest address). */
static int flatten(const char *path, struct segs *s, uint64_t base, uint64_t max, uint8_t **buf,
                   size_t *len)
{
    uint64_t lo = UINT64_MAX, hi = 0;
    size_t i, j;
    uint8_t *b, *seen;

    for (i = 0; i < s->n; i++) {
        if (s->v[i].addr < lo)
            lo = s->v[i].addr;
        if (s->v[i].addr + s->v[i].len > hi)
            hi = s->v[i].addr + s->v[i].len;
    }
    if (!s->n)
        lo = hi = base == UINT64_MAX ? 0 : base;
    if (base == UINT64_MAX)
        base = lo;
    if (lo < base) {
        cli_err("'%s': data at 0x%llx lies below --base 0x%llx", path, (unsigned long long)lo,
                (unsigned long long)base);
        return EXIT_USAGE;
    }
    if (hi - base > max) {
        cli_err("'%s': image spans 0x%llx-0x%llx (%llu bytes from base 0x%llx); it may be "
                "at most %llu bytes", path, (unsigned long long)lo, (unsigned long long)hi,
                (unsigned long long)(hi - base), (unsigned long long)base,
                (unsigned long long)max);
        return cli_over_exit;
    }
    b = malloc(hi - base ? (size_t)(hi - base) : 1);
    seen = calloc(1, hi - base ? (size_t)(hi - base) : 1);
    if (!b || !seen) {
        free(b);
        free(seen);
        return cli_oom("flattening the image");
    }
    memset(b, 0xFF, (size_t)(hi - base));
    for (i = 0; i < s->n; i++) {
        size_t off = (size_t)(s->v[i].addr - base);
        for (j = 0; j < s->v[i].len; j++) {
            if (seen[off + j] && b[off + j] != s->v[i].data[j]) {
                cli_err("'%s': two records give address 0x%llx different bytes", path,
                        (unsigned long long)(s->v[i].addr + j));
                free(b);
                free(seen);
                return EXIT_USAGE;
            }
            seen[off + j] = 1;
        }
        memcpy(b + off, s->v[i].data, s->v[i].len);
    }
    free(seen);
    *buf = b;
    *len = (size_t)(hi - base);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int looks_hex(const uint8_t *b, size_t n)
{
    size_t i;
    if (n < 11 || b[0] != ':')
        return 0;
    for (i = 1; i < 11; i++)
        if (hexval(b[i]) < 0)
            return 0;
    return 1;
}

/* Decode Intel HEX in place: record data bytes overwrite the text. */
static int load_hex(const char *path, uint8_t *text, size_t n, uint64_t base, uint64_t max,
                    uint8_t **buf, size_t *len)
{
    struct segs s = { 0 };
    size_t i = 0, line = 1, w = 0;
    uint64_t upper = 0;
    int rc = 0, eof = 0;

    while (i < n && !eof) {
        uint8_t rec[256 + 5];
        size_t k, cnt;
        unsigned sum = 0;
        while (i < n && (text[i] == '\r' || text[i] == '\n' || text[i] == ' ' || text[i] == '\t'))
            i += text[i] == '\n' ? (line++, 1) : 1;
        if (i >= n)
            break;
        if (text[i] != ':') {
            cli_err("'%s': Intel HEX line %zu does not start with ':'", path, line);
            rc = EXIT_USAGE;
            break;
        }
        i++;
        for (k = 0; k < sizeof rec && i + 1 < n && hexval(text[i]) >= 0 && hexval(text[i + 1]) >= 0;
             k++, i += 2)
            rec[k] = (uint8_t)(hexval(text[i]) << 4 | hexval(text[i + 1]));
        if (k < 5 || k != (size_t)rec[0] + 5) {
            cli_err("'%s': Intel HEX line %zu: record length %zu, its count byte says %u", path,
                    line, k, k ? rec[0] + 5u : 0u);
            rc = EXIT_USAGE;
            break;
        }
        cnt = rec[0];
        for (k = 0; k < cnt + 5; k++)
            sum += rec[k];
        if (sum & 0xFF) {
            cli_err("'%s': Intel HEX line %zu: checksum 0x%02x is wrong (should be 0x%02x)", path,
                    line, rec[cnt + 4], (unsigned)((rec[cnt + 4] - sum) & 0xFF));
            rc = EXIT_USAGE;
            break;
        }
        switch (rec[3]) {
        case 0x00: /* data */
            memcpy(text + w, rec + 4, cnt);   /* w < i: the text behind is used */
            if (seg_push(&s, upper + ((uint32_t)rec[1] << 8 | rec[2]), text + w, cnt)) {
                rc = cli_oom("reading Intel HEX");
                goto out;
            }
            w += cnt;
            break;
        case 0x01: eof = 1; break;
        case 0x02: upper = ((uint64_t)rec[4] << 8 | rec[5]) << 4; break;
        case 0x04: upper = ((uint64_t)rec[4] << 8 | rec[5]) << 16; break;
        case 0x03: case 0x05: break;    /* start address: not part of the image */
        default:
            cli_err("'%s': Intel HEX line %zu: unknown record type %u", path, line, rec[3]);
            rc = EXIT_USAGE;
            goto out;
        }
    }
    if (!rc && !eof) {
        cli_err("'%s': Intel HEX has no end-of-file record (truncated?)", path);
        rc = EXIT_USAGE;
    }
    if (!rc)
        rc = flatten(path, &s, base, max, buf, len);
out:
    free(s.v);
    return rc;
}

static uint64_t rd(const uint8_t *p, int n, int be)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < n; i++)
        v |= (uint64_t)p[be ? n - 1 - i : i] << (8 * i);
    return v;
}

/* ELF32/64, either byte order: PT_LOAD segments at their physical (load)
 * address, file bytes only (.bss is not in flash). */
static int load_elf(const char *path, const uint8_t *e, size_t n, uint64_t base, uint64_t max,
                    uint8_t **buf, size_t *len)
{
    struct segs s = { 0 };
    int is64, be, rc;
    uint64_t phoff, phentsize, phnum, i;

    if (n < 52 || (e[4] != 1 && e[4] != 2) || (e[5] != 1 && e[5] != 2)) {
        cli_err("'%s': not a valid ELF file (class %u, data %u)", path, n > 5 ? e[4] : 0,
                n > 5 ? e[5] : 0);
        return EXIT_USAGE;
    }
    is64 = e[4] == 2;
    be = e[5] == 2;
    if (is64 && n < 64) {
        cli_err("'%s': ELF header truncated", path);
        return EXIT_USAGE;
    }
    phoff = is64 ? rd(e + 32, 8, be) : rd(e + 28, 4, be);
    phentsize = rd(e + (is64 ? 54 : 42), 2, be);
    phnum = rd(e + (is64 ? 56 : 44), 2, be);
    if (phentsize < (is64 ? 56u : 32u) || phoff > n || phnum * phentsize > n - phoff) {
        cli_err("'%s': ELF program headers lie outside the file (offset %llu, %llu x %llu bytes)",
                path, (unsigned long long)phoff, (unsigned long long)phnum,
                (unsigned long long)phentsize);
        return EXIT_USAGE;
    }
    for (i = 0; i < phnum; i++) {
        const uint8_t *ph = e + phoff + i * phentsize;
        uint64_t type = rd(ph, 4, be), off, paddr, filesz;
        if (type != 1)   /* PT_LOAD */
            continue;
        off = is64 ? rd(ph + 8, 8, be) : rd(ph + 4, 4, be);
        paddr = is64 ? rd(ph + 24, 8, be) : rd(ph + 12, 4, be);
        filesz = is64 ? rd(ph + 32, 8, be) : rd(ph + 16, 4, be);
        if (off > n || filesz > n - off) {
            cli_err("'%s': ELF segment %llu lies outside the file", path, (unsigned long long)i);
            free(s.v);
            return EXIT_USAGE;
        }
        if (seg_push(&s, paddr, e + off, (size_t)filesz)) {
            free(s.v);
            return cli_oom("reading ELF");
        }
    }
    if (!s.n) {
        cli_err("'%s': ELF file has no loadable segment with data", path);
        free(s.v);
        return EXIT_USAGE;
    }
    rc = flatten(path, &s, base, max, buf, len);
    free(s.v);
    return rc;
}

int cli_read_image(const char *path, const char *format, uint64_t base, uint64_t max,
                   uint8_t **buf, size_t *len)
{
    uint8_t *raw, head[16];
    size_t n;
    int rc, kind;   /* 0 bin, 1 hex, 2 elf */
    const char *what_image = cli_over_exit == EXIT_POLICY ? "an image for this slot" : "an image";
    uint64_t rmax = max;

    /* HEX text is under three times its bytes, ELF carries headers: a
     * larger bound for those only (stdin: only with --input-format). */
    if (!strcmp(format, "auto") && strcmp(path, "-")) {
        FILE *f = fopen(path, "rb");
        size_t h = f ? fread(head, 1, sizeof head, f) : 0;
        if (f)
            fclose(f);
        if ((h >= 4 && !memcmp(head, "\x7f" "ELF", 4)) || looks_hex(head, h))
            rmax = 3 * max + 65536;
    } else if (!strcmp(format, "hex") || !strcmp(format, "elf")) {
        rmax = 3 * max + 65536;
    }
    if ((rc = cli_read_input(path, what_image, rmax, &raw, &n)))
        return rc;
    if (!strcmp(format, "bin"))
        kind = 0;
    else if (!strcmp(format, "hex"))
        kind = 1;
    else if (!strcmp(format, "elf"))
        kind = 2;
    else
        kind = n >= 4 && !memcmp(raw, "\x7f" "ELF", 4) ? 2 : looks_hex(raw, n) ? 1 : 0;
    if (kind == 2 && (n < 4 || memcmp(raw, "\x7f" "ELF", 4))) {
        cli_err("'%s' is not an ELF file (no \\x7fELF at its start)", path);
        free(raw);
        return EXIT_USAGE;
    }
    if (kind == 0) {
        if (n > max) {
            cli_err("'%s' is %zu bytes; %s may be at most %llu bytes", path, n, what_image,
                    (unsigned long long)max);
            free(raw);
            return cli_over_exit;
        }
        *buf = raw;
        *len = n;
        return 0;
    }
    rc = kind == 1 ? load_hex(path, raw, n, base, max, buf, len)
                   : load_elf(path, raw, n, base, max, buf, len);
    free(raw);
    if (!rc && cli_verbose)
        fprintf(stderr, "dfota: '%s': %s, %zu bytes of image\n", path, kind == 1 ? "Intel HEX" : "ELF",
                *len);
    return rc;
}
