/* DZ2 encoder internals (host only): the parse into DZ2 operations and
 * their entropy coding. docs/delta-format.md, "DZ2". */
#ifndef DFOTA_DZ2_H
#define DFOTA_DZ2_H

#include <stddef.h>
#include <stdint.h>
#include "dfota/delta2.h"
#include "encoder.h"

/* One DZ2 operation in target stream order. */
struct dz2_op {
    uint8_t  kind;       /* DZ2_OP_LIT, DZ2_OP_COPY (approximate, u = source position),
                          * DZ2_OP_MATCH (exact, u = joint-space position of its first byte) */
    uint32_t len;
    uint32_t u;
};

struct dz2_oplist {
    struct dz2_op *v;
    size_t n, cap;
    double est;          /* the parse's estimate of the bits it spends (its prices) */
};

/* Approximate copies shorter than this are parsed again by the LZ parse. */
#define DZ2_COPY_MIN 16u

/* Turn DZ1's operations into DZ2 ones: keep its approximate copies of
 * DZ2_COPY_MIN bytes or more and parse everything else again, with costs,
 * into literals and exact copies from the source and the target so far. */
int dz2_parse(const struct dz_match_ctx *c, const struct dz_oplist *dz1, int blf,
              struct dz2_oplist *out);

/* With blf (the Thumb branch filter, dfota/delta2.h) exact copies are
 * found between the filtered images, then each is cut where the decoder's
 * copy would differ from the target. The bytes of an exact copy of len
 * bytes from joint position u to stream position t that the decoder
 * produces right with the filter: len if all. */
uint32_t dz2_blf_good(const struct dz_match_ctx *c, size_t t, uint32_t u, uint32_t len);

/* Entropy-code DZ2 operations (the mirror of lib/dz2_decode.c); checks
 * every operation against what the decoder accepts. */
int dz2_encode_ops(const struct dz_match_ctx *c, const struct dz2_oplist *ops,
                   const struct dz_xparams *x, uint8_t **out, size_t *out_len);

/* What a payload spends (ideal code lengths, in 1/256 bit): q[t] for the
 * bytes of target stream position t (dst_len entries, at most 0xFFFE),
 * hdr[kind] for the operation headers of each kind. */
struct dz2_costs {
    uint16_t *q;
    double hdr[DZ2_OP_KINDS];
};

/* dz2_encode_ops, counting what it spends in *cost (cost->q allocated by
 * the caller). The payload goes to *out unless out is NULL. */
int dz2_encode_costs(const struct dz_match_ctx *c, const struct dz2_oplist *ops,
                     const struct dz_xparams *x, struct dz2_costs *cost, uint8_t **out,
                     size_t *out_len);

/* dz2_parse in steps, so that a second parse uses the same hash chains:
 * dz2_parser_new holds the joint image and its chains (NULL when out of
 * memory); dz2_parser_run parses as dz2_parse does without first, and with
 * first (a parse run before) and cost (what dz2_encode_costs counted for
 * it, overwritten here) it parses again: literal prices from the first
 * parse's literals, and each of DZ1's approximate copies is parsed too,
 * the parse free to take any stretch of it as a copy at its counted byte
 * costs or to code it as literals and exact copies. */
struct dz2_parser;
struct dz2_parser *dz2_parser_new(const struct dz_match_ctx *c, int blf);
int dz2_parser_run(struct dz2_parser *pp, const struct dz_oplist *dz1,
                   const struct dz2_oplist *first, struct dz2_costs *cost, struct dz2_oplist *out);
void dz2_parser_free(struct dz2_parser *pp);
/* The parser's copy of the joint image freed while it waits (1 byte a byte
 * of old + new), made again, the same, by the next dz2_parser_run; the
 * images it was made from must not change meanwhile. */
void dz2_parser_drop_image(struct dz2_parser *pp);

/* The stored payload: the mode byte and the target stream verbatim. */
int dz2_stored(const struct dz_match_ctx *c, uint8_t **out, size_t *out_len);

/* Stream position where the block holding stream position t begins / ends
 * (the whole target for A/B). */
void dz2_block_span(const struct dz_match_ctx *c, size_t t, size_t *start, size_t *end);

#endif
