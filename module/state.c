/* dfota module core: the module's own state records in flash.
 *
 * The state area is two halves of whole sectors. Records of
 * DFOTA_MOD_REC_SIZE bytes are appended one after the other in the half
 * that holds the newest one; when it is full, the other half is erased and
 * the next record starts it. Each record carries a sequence number and a
 * CRC-32, so a record cut by a power loss (or a half torn by a cut erase)
 * is ignored and the newest intact record wins: the one before the cut. */
#include <string.h>
#include "dfota/sha256.h"
#include "mod_priv.h"

#define REC_MAGIC 0x444D5331u /* "1SMD": dfota module state, record format 1 */
#define CHUNK 64u

_Static_assert(sizeof(struct dfota_mod_rec) == DFOTA_MOD_REC_SIZE, "record layout");
_Static_assert(DFOTA_MOD_REC_SIZE % CHUNK == 0, "record chunks");

static const struct dfota_flash *FL(const struct dfota_mod *m)
{
    return m->ecfg.flash;
}

static uint32_t half_size(const struct dfota_mod *m)
{
    return m->cfg->state.size / 2;
}

static uint32_t slots(const struct dfota_mod *m)
{
    return half_size(m) / DFOTA_MOD_REC_SIZE;
}

static uint32_t slot_addr(const struct dfota_mod *m, uint32_t half, uint32_t slot)
{
    return m->cfg->state.addr + half * half_size(m) + slot * DFOTA_MOD_REC_SIZE;
}

static uint32_t rec_crc(const void *rec)
{
    const uint8_t *p = rec;
    uint32_t crc = dfota_crc32(0, p, 8);   /* magic, seq; not the crc field */
    return dfota_crc32(crc, p + 12, DFOTA_MOD_REC_SIZE - 12);
}

/* Read the slot in chunks: is it all erased, and is it a valid record?
 * A slot the port cannot read counts as used and invalid. */
static int probe(struct dfota_mod *m, uint32_t addr, int *erased, int *valid, uint32_t *seq)
{
    const struct dfota_flash *f = FL(m);
    uint8_t c[CHUNK];
    uint32_t off, i, crc = 0, magic = 0, stored = 0;

    *erased = 1;
    *valid = 0;
    for (off = 0; off < DFOTA_MOD_REC_SIZE; off += CHUNK) {
        if (f->read(f->ctx, addr + off, c, CHUNK)) {
            /* unreadable (ECC flash after a cut program): used, not valid */
            *erased = 0;
            return DFOTA_OK;
        }
        for (i = 0; i < CHUNK; i++)
            if (c[i] != f->erased)
                *erased = 0;
        if (off == 0) {
            memcpy(&magic, c, 4);
            memcpy(seq, c + 4, 4);
            memcpy(&stored, c + 8, 4);
            crc = dfota_crc32(0, c, 8);
            crc = dfota_crc32(crc, c + 12, CHUNK - 12);
        } else {
            crc = dfota_crc32(crc, c, CHUNK);
        }
    }
    *valid = !*erased && magic == REC_MAGIC && crc == stored;
    return DFOTA_OK;
}

int mod_state_load(struct dfota_mod *m)
{
    const struct dfota_flash *f = FL(m);
    uint32_t h, i, n = slots(m), seq, best_seq = 0, best_half = 0, best_slot = 0;
    uint32_t last_used[2] = { 0, 0 };
    int erased, valid, found = 0, rc;

    memset(&m->rec, 0, sizeof m->rec);
    for (h = 0; h < 2; h++) {
        for (i = 0; i < n; i++) {
            if ((rc = probe(m, slot_addr(m, h, i), &erased, &valid, &seq)))
                return rc;
            if (!erased)
                last_used[h] = i + 1;
            if (valid && (!found || seq > best_seq)) {
                found = 1;
                best_seq = seq;
                best_half = h;
                best_slot = i;
            }
        }
    }
    m->provisioned = (uint8_t)found;
    if (!found) {
        /* Nothing usable: the first record erases half 0 and starts it. */
        m->rec_half = 1;
        m->rec_slot = n;
        return DFOTA_OK;
    }
    if (f->read(f->ctx, slot_addr(m, best_half, best_slot), &m->rec, DFOTA_MOD_REC_SIZE))
        return DFOTA_ERR_IO;
    /* Terminate every string whatever the record says (it passed its CRC,
     * but it is outside input all the same). */
    m->rec.rev[DFOTA_MOD_REV_MAX - 1] = 0;
    m->rec.next_rev[DFOTA_MOD_REV_MAX - 1] = 0;
    m->rec.url[DFOTA_MOD_URL_MAX] = 0;
    m->rec.etag[DFOTA_MOD_ETAG_MAX - 1] = 0;
    m->rec_half = best_half;
    m->rec_slot = last_used[best_half];     /* past any torn record after it */
    return DFOTA_OK;
}

int mod_state_save(struct dfota_mod *m)
{
    const struct dfota_flash *f = FL(m);
    uint32_t i, half = half_size(m);
    int rc;

    if (m->rec_slot >= slots(m)) {
        uint32_t other = m->rec_half ^ 1u;
        for (i = 0; i < half; i += f->sector_size)
            if (f->erase(f->ctx, m->cfg->state.addr + other * half + i))
                return DFOTA_ERR_IO;
        m->rec_half = other;
        m->rec_slot = 0;
    }
    m->rec.magic = REC_MAGIC;
    m->rec.seq++;
    m->rec.crc = rec_crc(&m->rec);
    /* The slot is used from here on, whether the program completes or not. */
    i = m->rec_slot++;
    rc = f->prog(f->ctx, slot_addr(m, m->rec_half, i), &m->rec, DFOTA_MOD_REC_SIZE);
    if (!rc && f->sync)
        rc = f->sync(f->ctx);
    if (rc) {
        mod_log(m, "state: record write failed");
        return DFOTA_ERR_IO;
    }
    m->provisioned = 1;
    return DFOTA_OK;
}

void mod_state_save_soon(struct dfota_mod *m)
{
    if (m->in_response)
        m->save_due = 1;
    else
        mod_state_save(m);
}
