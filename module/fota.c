/* dfota module core: power-up, the network, and the FOTA state machine of
 * AT+QFOTADL (docs/modem.md): download into staging with resume, check,
 * install, reboot, the forced upgrade after a power cut, and the +QIND
 * URCs. */
#include <string.h>
#include "dfota/sha256.h"
#include "mod_priv.h"

enum { FAIL_RETRY = 0, FAIL_HTTP = 12, FAIL_NET = 13 };

static const struct dfota_flash *FL(const struct dfota_mod *m)
{
    return m->ecfg.flash;
}

static const struct dfota_layout *LAY(const struct dfota_mod *m)
{
    return &m->ecfg.layout;
}

/* ---- the one table from libdfota's errors to the BC20 END codes --------- */

int dfota_mod_end_code(int err)
{
    switch (err) {
    case DFOTA_OK:
        return 0;
    case DFOTA_ERR_SOURCE:          /* built from other firmware: "mismatch" */
        return 254;
    case DFOTA_ERR_MAGIC:
    case DFOTA_ERR_VERSION:
    case DFOTA_ERR_HEADER:
    case DFOTA_ERR_SIZE:
    case DFOTA_ERR_ALGORITHM:
    case DFOTA_ERR_SIGNATURE:
    case DFOTA_ERR_PAYLOAD:
    case DFOTA_ERR_CORRUPT:
    case DFOTA_ERR_TARGET:
    case DFOTA_ERR_PRODUCT:         /* not for this device: "invalid" too */
    case DFOTA_ERR_LAYOUT:
    case DFOTA_ERR_NOSPACE:
    case DFOTA_ERR_DOWNGRADE:
    case DFOTA_ERR_RAM:             /* made for a bigger decoder: "invalid" */
        return 255;
    case DFOTA_ERR_STATE:           /* an update is already under way */
        return 2;
    default:                        /* DFOTA_ERR_IO, _JOURNAL, _ARG: the module's own trouble */
        return 1;
    }
}

/* ---- URCs ------------------------------------------------------------------ */

static void qind(struct dfota_mod *m, const char *stage, int code)
{
    char b[48];
    b[0] = 0;
    mod_cat(b, sizeof b, "+QIND: \"FOTA\",\"");
    mod_cat(b, sizeof b, stage);
    mod_cat(b, sizeof b, "\"");
    if (code >= 0) {
        mod_cat(b, sizeof b, ",");
        mod_cat_u(b, sizeof b, (uint32_t)code);
    }
    mod_urc(m, b);
}

static void qind_pct(struct dfota_mod *m, const char *stage, int pct)
{
    char b[48];
    uint8_t form = m->cfg->percent_form;
    b[0] = 0;
    mod_cat(b, sizeof b, "+QIND: \"FOTA\",\"");
    mod_cat(b, sizeof b, stage);
    mod_cat(b, sizeof b, form == DFOTA_MOD_PCT_PLAIN || form == DFOTA_MOD_PCT_PERCENT ? "\"," : "\", ");
    mod_cat_u(b, sizeof b, (uint32_t)pct);
    if (form != DFOTA_MOD_PCT_PLAIN)
        mod_cat(b, sizeof b, "%");
    mod_urc(m, b);
}

/* done * 100 / total in 32 bits (no 64-bit division on a Cortex-M). */
static int percent(uint32_t done, uint32_t total)
{
    uint32_t p;
    if (!total || done >= total)
        return 100;
    p = total > 0x28F5C28u ? done / (total / 100u) : done * 100u / total;
    return p > 100 ? 100 : (int)p;
}

/* UPDATING progress from libdfota: apply 0-90 %, read-back 90-100 %. */
static void engine_progress(void *ctx, enum dfota_phase ph, unsigned pct)
{
    struct dfota_mod *m = ctx;
    int o;
    if (ph == DFOTA_PHASE_CHECK)
        return;
    o = ph == DFOTA_PHASE_APPLY ? (int)(pct * 90u / 100u) : 90 + (int)(pct / 10u);
    if (o > m->up_pct && o > 0) {
        m->up_pct = (int16_t)o;
        qind_pct(m, "UPDATING", o);
    }
}

/* ---- revisions: keyed by the image that boots ---------------------------- */

static int image_is(struct dfota_mod *m, uint32_t addr, uint32_t size, const uint8_t sha[32])
{
    struct dfota_sha256 c;
    uint8_t d[32];
    uint32_t off, n;

    if (size > LAY(m)->slot_size)
        return 0;
    dfota_sha256_init(&c);
    for (off = 0; off < size; off += n) {
        n = size - off < sizeof m->buf ? size - off : (uint32_t)sizeof m->buf;
        if (FL(m)->read(FL(m)->ctx, addr + off, m->buf, n))
            return 0;
        dfota_sha256_update(&c, m->buf, n);
    }
    dfota_sha256_final(&c, d);
    return memcmp(d, sha, 32) == 0;
}

/* An install was recorded (has_next) and the engine is no longer pending:
 * the target boots if the booting bank holds exactly the target image.
 * Settle the revision and the last result, and forget the install. */
static void settle(struct dfota_mod *m)
{
    struct dfota_mod_rec *r = &m->rec;
    uint32_t slot;
    int ok;

    if (!r->has_next || dfota_pending(&m->engine))
        return;
    slot = LAY(m)->kind == DFOTA_LAYOUT_AB ? r->next_slot : 0;
    ok = (LAY(m)->kind != DFOTA_LAYOUT_AB || dfota_active_slot(&m->engine) == slot) &&
         image_is(m, LAY(m)->slot[slot & 1], r->next_size, r->next_sha);
    if (ok) {
        mod_strlcpy(r->rev, r->next_rev, sizeof r->rev);
        if (r->next_sec > r->sec_counter)
            r->sec_counter = r->next_sec;
        if (r->sec_counter > m->ecfg.security_counter)
            m->ecfg.security_counter = r->sec_counter;
        r->last_stage = STAGE_END;
        r->last_code = 0;
    } else if (r->last_stage != STAGE_END) {
        r->last_stage = STAGE_END;      /* cut and given up: nothing says why */
        r->last_code = 1;
    }
    r->has_next = 0;
    mod_state_save(m);
}

/* ---- power-up ---------------------------------------------------------------- */

int dfota_mod_init(struct dfota_mod *m, const struct dfota_mod_config *cfg)
{
    const struct dfota_flash *f;
    uint32_t ss;
    int rc;

    memset(m, 0, sizeof *m);
    if (!cfg || !cfg->ports.serial_write || !cfg->ports.http_start || !cfg->ports.http_abort ||
        !cfg->engine.flash)
        return DFOTA_ERR_ARG;
    m->cfg = cfg;
    m->ecfg = cfg->engine;
    m->ecfg.progress = engine_progress;
    m->ecfg.progress_ctx = m;
    m->echo = 1;
    m->cmee = 1;
    m->cfun = 1;
    m->net.rxlev = m->net.ber = 99;
    m->net.rsrq = m->net.rsrp = 255;
    m->dl_pct = m->up_pct = -1;
    f = cfg->engine.flash;
    ss = f->sector_size;
    if (!f->read || !f->prog || !f->erase || !ss || (ss & (ss - 1)) || !f->prog_size ||
        f->prog_size > ss || DFOTA_MOD_REC_SIZE % f->prog_size || cfg->state.addr % ss ||
        cfg->state.size < 2 * ss || cfg->state.size % (2 * ss) ||
        cfg->state.size / 2 < DFOTA_MOD_REC_SIZE)
        return DFOTA_ERR_ARG;
    if ((rc = mod_state_load(m)))
        return rc;
    if (m->rec.sec_counter > m->ecfg.security_counter)
        m->ecfg.security_counter = m->rec.sec_counter;
    if ((rc = dfota_init(&m->engine, &m->ecfg)))
        return rc;
    settle(m);
    return DFOTA_OK;
}

int dfota_mod_provision(struct dfota_mod *m, const char *revision)
{
    if (m->provisioned)
        return DFOTA_ERR_STATE;
    if (!revision || mod_strlen(revision) >= DFOTA_MOD_REV_MAX)
        return DFOTA_ERR_ARG;
    memset(&m->rec, 0, sizeof m->rec);
    mod_strlcpy(m->rec.rev, revision, sizeof m->rec.rev);
    return mod_state_save(m);
}

int dfota_mod_provisioned(const struct dfota_mod *m)
{
    return m->provisioned;
}

static const char banner[] = "F1: 0000 0000\n\r"
                             "V0: 0000 0000 [0001]\n\r"
                             "00: 0006 000C\n\r"
                             "01: 0000 0000\n\r"
                             "U0: 0000 0001 [0000]\n\r"
                             "T0: 0000 00B4\n\r"
                             "Leaving the BROM\n\r";

static void urc_ip(struct dfota_mod *m)
{
    char b[8 + sizeof m->net.ip];
    b[0] = 0;
    mod_cat(b, sizeof b, "+IP: ");
    mod_cat(b, sizeof b, m->net.ip);
    mod_urc(m, b);
}

void dfota_mod_boot(struct dfota_mod *m, uint32_t now_ms)
{
    m->now_ms = now_ms;
    mod_puts(m, banner);
    m->booted = 1;
    if (dfota_pending(&m->engine)) {
        /* The power went while UPDATING: the forced upgrade. */
        int rc, code;
        qind(m, "START", -1);
        m->up_pct = 0;
        rc = dfota_resume(&m->engine);
        code = dfota_mod_end_code(rc);
        qind(m, "END", code);
        m->rec.last_stage = STAGE_END;
        m->rec.last_code = (uint8_t)code;
        if (!dfota_pending(&m->engine)) {
            if (!m->rec.has_next && rc == DFOTA_OK) {
                /* no record of the target (state lost): the package names it */
                mod_strlcpy(m->rec.rev, m->engine.hdr.dst_version, sizeof m->rec.rev);
                mod_state_save(m);
            }
            settle(m);
        } else {
            mod_state_save(m);
        }
        if (code == 0) {
            m->fota = DFOTA_MOD_FOTA_REBOOTING;
            m->reboot = 1;              /* the new firmware boots */
            return;
        }
    }
    mod_urc(m, "+CPIN: READY");
    if (m->net.attached && m->net.ip[0])
        urc_ip(m);
}

int dfota_mod_reboot_requested(const struct dfota_mod *m)
{
    return m->reboot;
}

const char *dfota_mod_revision(const struct dfota_mod *m)
{
    return m->rec.rev;
}

/* ---- the download ------------------------------------------------------------ */

static uint32_t wchunk(const struct dfota_mod *m)
{
    uint32_t ss = FL(m)->sector_size;
    return ss < sizeof m->buf ? ss : (uint32_t)sizeof m->buf;
}

static uint32_t sector_floor(const struct dfota_mod *m, uint32_t v)
{
    return v & ~(FL(m)->sector_size - 1u);
}

static void dl_end(struct dfota_mod *m, int code)
{
    m->http = HTTP_NONE;
    m->fota = DFOTA_MOD_FOTA_IDLE;
    qind(m, "HTTPEND", code);
    /* what is staged stays on record: the same URL resumes from it */
    m->rec.last_stage = STAGE_HTTPEND;
    m->rec.last_code = (uint8_t)code;
    mod_state_save_soon(m);
}

static void http_stop(struct dfota_mod *m)
{
    if (m->http == HTTP_RUN) {
        m->http = HTTP_NONE;
        m->aborts++;
        m->cfg->ports.http_abort(m->cfg->ports.ctx);
    }
    m->http = HTTP_NONE;
}

/* The running GET (if any) failed: retry it, or end the download. */
static void dl_fail(struct dfota_mod *m, int how)
{
    http_stop(m);
    if (how == FAIL_RETRY && m->retries < m->cfg->http_retries) {
        m->retries++;
        m->http = HTTP_WAIT;
        m->start_at = m->now_ms + DFOTA_MOD_RETRY_MS;
        mod_log(m, "fota: GET failed, retrying");
        return;
    }
    dl_end(m, how == FAIL_NET ? 13 : 12);
}

static void dl_progress(struct dfota_mod *m)
{
    int p = percent(m->wpos + m->fill, m->rec.dl_total);
    if (p > m->dl_pct) {
        m->dl_pct = (int16_t)p;
        m->dl_news = 0;
        m->last_urc_ms = m->now_ms;
        qind_pct(m, "DOWNLOADING", p);
    }
}

/* Program the buffered bytes at wpos (erasing a sector when they start it);
 * final: pad the last program unit. A completed sector is put on record. */
static int flush(struct dfota_mod *m, int final)
{
    const struct dfota_flash *f = FL(m);
    uint32_t n = m->fill, addr = LAY(m)->staging + m->wpos;

    if (!n)
        return DFOTA_OK;
    if (final)
        while (n % f->prog_size)
            m->buf[n++] = f->erased;
    if (m->wpos % f->sector_size == 0 && f->erase(f->ctx, addr))
        return DFOTA_ERR_IO;
    if (f->prog(f->ctx, addr, m->buf, n) || (f->sync && f->sync(f->ctx)))
        return DFOTA_ERR_IO;
    m->wpos += m->fill;
    m->fill = 0;
    if (m->wpos % f->sector_size == 0) {
        m->rec.dl_staged = m->wpos;
        mod_state_save(m);
    }
    return DFOTA_OK;
}

static void http_go(struct dfota_mod *m)
{
    struct dfota_mod_http_req req;

    req.url = m->rec.url;
    req.offset = m->req_offset = m->wpos + m->fill;
    req.if_range = req.offset && m->rec.etag[0] ? m->rec.etag : NULL;
    m->http = HTTP_RUN;
    m->last_data_ms = m->now_ms;
    if (m->cfg->ports.http_start(m->cfg->ports.ctx, &req) < 0) {
        m->http = HTTP_NONE;
        dl_fail(m, FAIL_RETRY);
    }
}

static int registered(const struct dfota_mod *m)
{
    return m->cfun && (m->net.reg_stat == 1 || m->net.reg_stat == 5);
}

int fota_request(struct dfota_mod *m, const char *url, size_t len)
{
    struct dfota_url u;
    struct dfota_mod_rec *r = &m->rec;

    if (dfota_url_parse(url, len, &u))
        return CME_BAD_PARAM;
    if (m->fota != DFOTA_MOD_FOTA_IDLE || m->reboot || dfota_pending(&m->engine)) {
        qind(m, "END", 2);              /* busy; the running FOTA carries on */
        return 0;
    }
    qind(m, "HTTPSTART", -1);
    if (!registered(m) || !m->net.attached) {
        qind(m, "HTTPEND", 20);
        r->last_stage = STAGE_HTTPEND;
        r->last_code = 20;
        mod_state_save_soon(m);
        return 0;
    }
    if (r->dl_total && mod_strlen(r->url) == len && memcmp(r->url, url, len) == 0) {
        /* the same URL: resume from what is staged (the last sector again
         * when all of it is, so that If-Range still checks the file) */
        uint32_t st = r->dl_staged;
        if (st >= r->dl_total)
            st = sector_floor(m, r->dl_total - 1u);
        m->wpos = st;
    } else {
        memcpy(r->url, url, len);
        r->url[len] = 0;
        r->etag[0] = 0;
        r->dl_total = r->dl_staged = 0;
        m->wpos = 0;
    }
    m->fill = 0;
    m->retries = 0;
    m->dl_pct = -1;
    m->dl_news = 0;
    m->last_urc_ms = m->now_ms;
    m->fota = DFOTA_MOD_FOTA_DOWNLOADING;
    m->http = HTTP_WAIT;
    m->start_at = m->now_ms;            /* the GET starts at the next poll, after OK */
    return 0;
}

void fota_read(struct dfota_mod *m)
{
    const struct dfota_mod_rec *r = &m->rec;
    char b[48];
    const char *st;
    int code;

    if (m->fota == DFOTA_MOD_FOTA_DOWNLOADING) {
        st = "DOWNLOADING";
        code = m->dl_pct < 0 ? 0 : m->dl_pct;
    } else {
        switch (r->last_stage) {
        case STAGE_DOWNLOADING:         /* a download the power cut: it can resume */
            st = "DOWNLOADING";
            code = r->dl_total ? percent(r->dl_staged, r->dl_total) : 0;
            if (code == 100)
                code = 99;
            break;
        case STAGE_HTTPEND:
            st = "HTTPEND";
            code = r->last_code;
            break;
        case STAGE_UPDATING:
            st = "UPDATING";
            code = 0;
            break;
        case STAGE_END:
            st = "END";
            code = r->last_code;
            break;
        default:
            st = "NONE";
            code = 0;
            break;
        }
    }
    b[0] = 0;
    mod_cat(b, sizeof b, "+QFOTADL: \"");
    mod_cat(b, sizeof b, st);
    mod_cat(b, sizeof b, "\",");
    mod_cat_u(b, sizeof b, (uint32_t)code);
    mod_info(m, b);
}

void fota_radio_off(struct dfota_mod *m)
{
    if (m->fota == DFOTA_MOD_FOTA_DOWNLOADING)
        dl_fail(m, FAIL_NET);
}

void fota_abort_for_reboot(struct dfota_mod *m)
{
    http_stop(m);
}

void dfota_mod_set_net(struct dfota_mod *m, const struct dfota_mod_net *net)
{
    struct dfota_mod_net old = m->net;

    m->net = *net;
    m->net.ip[sizeof m->net.ip - 1] = 0;
    m->net.oper[sizeof m->net.oper - 1] = 0;
    if (!m->booted || m->reboot)
        return;                         /* dfota_mod_boot reports the address */
    if (m->cereg_n == 1 && old.reg_stat != net->reg_stat) {
        char b[16];
        b[0] = 0;
        mod_cat(b, sizeof b, "+CEREG: ");
        mod_cat_u(b, sizeof b, net->reg_stat);
        mod_urc(m, b);
    }
    if (net->attached && !old.attached && m->net.ip[0])
        urc_ip(m);
    if (!net->attached && m->fota == DFOTA_MOD_FOTA_DOWNLOADING)
        dl_fail(m, FAIL_NET);
}

void dfota_mod_http_headers(struct dfota_mod *m, int status, uint32_t first, uint32_t total,
                            const char *validator)
{
    struct dfota_mod_rec *r = &m->rec;

    if (m->http != HTTP_RUN)
        return;
    m->last_data_ms = m->now_ms;
    if (!validator)
        validator = "";
    if (status == 200 || (status == 206 && first == 0 && m->req_offset == 0)) {
        /* the whole file from byte 0: a new download, or a resume the
         * server answered with the whole (changed) file; never spliced */
        if (!total || total > LAY(m)->staging_size) {
            mod_log(m, total ? "fota: package larger than staging" : "fota: no Content-Length");
            dl_fail(m, FAIL_HTTP);
            return;
        }
        if (m->req_offset)
            mod_log(m, "fota: the file changed, downloading it again");
        m->wpos = m->fill = 0;
        r->dl_total = total;
        r->dl_staged = 0;
        mod_strlcpy(r->etag, validator, sizeof r->etag);
        r->last_stage = STAGE_DOWNLOADING;
        if (mod_state_save(m))
            dl_fail(m, FAIL_HTTP);
        return;
    }
    if (status == 206) {
        size_t el = mod_strlen(r->etag), vl = mod_strlen(validator);
        if (first == m->req_offset && total == r->dl_total &&
            (!el || !vl || (el == vl && memcmp(validator, r->etag, el) == 0)))
            return;                     /* the rest of the same file */
        mod_log(m, "fota: resume refused, starting over");
        m->wpos = m->fill = 0;          /* the next GET asks for the whole file */
        dl_fail(m, FAIL_RETRY);
        return;
    }
    if ((status == 416 || status == 412) && m->req_offset) {
        m->wpos = m->fill = 0;
        dl_fail(m, FAIL_RETRY);
        return;
    }
    if (status >= 400 && status < 500 && status != 408 && status != 429) {
        dl_fail(m, FAIL_HTTP);          /* 404 and friends: retrying will not help */
        return;
    }
    dl_fail(m, FAIL_RETRY);             /* 5xx, 408, 429, anything odd */
}

void dfota_mod_http_data(struct dfota_mod *m, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t ch = wchunk(m);

    if (m->http != HTTP_RUN || !len)
        return;
    m->last_data_ms = m->now_ms;
    if (!m->rec.dl_total || len > m->rec.dl_total - m->wpos - m->fill) {
        mod_log(m, "fota: more data than the headers said");
        dl_fail(m, FAIL_RETRY);
        return;
    }
    while (len) {
        uint32_t n = ch - m->fill;
        if (n > len)
            n = (uint32_t)len;
        memcpy(m->buf + m->fill, p, n);
        m->fill += n;
        p += n;
        len -= n;
        if (m->fill == ch && flush(m, 0)) {
            mod_log(m, "fota: staging write failed");
            dl_fail(m, FAIL_HTTP);
            return;
        }
    }
    m->dl_news = 1;
    dl_progress(m);
}

void dfota_mod_http_end(struct dfota_mod *m, enum dfota_mod_http_result res)
{
    if (res == DFOTA_MOD_HTTP_ABORTED) {
        if (m->aborts)
            m->aborts--;
        return;
    }
    if (m->http != HTTP_RUN)
        return;
    m->http = HTTP_NONE;
    if (res == DFOTA_MOD_HTTP_NET_DOWN) {
        dl_fail(m, FAIL_NET);
        return;
    }
    if (res != DFOTA_MOD_HTTP_OK || !m->rec.dl_total ||
        m->wpos + m->fill != m->rec.dl_total) {
        dl_fail(m, FAIL_RETRY);
        return;
    }
    if (flush(m, 1)) {
        mod_log(m, "fota: staging write failed");
        dl_fail(m, FAIL_HTTP);
        return;
    }
    dl_progress(m);
    m->http = HTTP_NONE;
    m->fota = DFOTA_MOD_FOTA_UPDATING;  /* dfota_mod_poll installs it */
    qind(m, "HTTPEND", 0);
}

/* ---- the update ---------------------------------------------------------------- */

static void update(struct dfota_mod *m)
{
    struct dfota_mod_rec *r = &m->rec;
    const struct dfota_pkg_header *h = &m->engine.hdr;
    int rc, code;

    qind(m, "START", -1);
    m->up_pct = 0;
    rc = dfota_check(&m->engine);
    /* the download is used up whatever happens: the same URL again fetches
     * it anew (a corrupt package must not be resumed into) */
    r->dl_total = r->dl_staged = 0;
    r->url[0] = 0;
    r->etag[0] = 0;
    if (rc == DFOTA_OK) {
        /* Record the target before the first write, so that whatever the
         * power does the revision follows the image that boots. */
        r->has_next = 1;
        r->next_slot = LAY(m)->kind == DFOTA_LAYOUT_AB ? (uint8_t)(dfota_active_slot(&m->engine) ^ 1u)
                                                       : 0;
        r->next_size = h->dst_size;
        memcpy(r->next_sha, h->dst_sha256, 32);
        r->next_sec = h->security_counter;
        mod_strlcpy(r->next_rev, h->dst_version, sizeof r->next_rev);
        r->last_stage = STAGE_UPDATING;
        rc = mod_state_save(m);
        if (rc == DFOTA_OK)
            rc = dfota_install(&m->engine);
    }
    code = dfota_mod_end_code(rc);
    qind(m, "END", code);
    if (!dfota_pending(&m->engine)) {
        if (rc == DFOTA_OK) {
            mod_strlcpy(r->rev, r->next_rev, sizeof r->rev);
            if (r->next_sec > r->sec_counter)
                r->sec_counter = r->next_sec;
            if (r->sec_counter > m->ecfg.security_counter)
                m->ecfg.security_counter = r->sec_counter;
        }
        r->has_next = 0;
    }
    r->last_stage = STAGE_END;
    r->last_code = (uint8_t)code;
    mod_state_save(m);
    m->fota = DFOTA_MOD_FOTA_IDLE;
    if (code == 0) {
        m->fota = DFOTA_MOD_FOTA_REBOOTING;
        m->reboot = 1;
    }
}

void dfota_mod_poll(struct dfota_mod *m, uint32_t now_ms)
{
    m->now_ms = now_ms;
    if (m->reboot || !m->booted)
        return;
    if (m->fota == DFOTA_MOD_FOTA_DOWNLOADING) {
        if (m->http == HTTP_WAIT && (int32_t)(now_ms - m->start_at) >= 0) {
            http_go(m);
        } else if (m->http == HTTP_RUN && m->cfg->http_stall_ms &&
                   now_ms - m->last_data_ms >= m->cfg->http_stall_ms) {
            mod_log(m, "fota: the download stalled");
            dl_fail(m, FAIL_RETRY);
        } else if (m->http == HTTP_RUN && m->dl_news && m->cfg->progress_ms &&
                   now_ms - m->last_urc_ms >= m->cfg->progress_ms) {
            int p = percent(m->wpos + m->fill, m->rec.dl_total);
            if (p < m->dl_pct)
                p = m->dl_pct;          /* never backwards */
            m->dl_pct = (int16_t)p;
            m->dl_news = 0;
            m->last_urc_ms = now_ms;
            qind_pct(m, "DOWNLOADING", p);
        }
    } else if (m->fota == DFOTA_MOD_FOTA_UPDATING) {
        update(m);
    }
}

static int32_t until(uint32_t at, uint32_t now)
{
    int32_t d = (int32_t)(at - now);
    return d < 0 ? 0 : d;
}

int32_t dfota_mod_poll_in(const struct dfota_mod *m, uint32_t now_ms)
{
    int32_t d = -1, e;

    if (m->reboot || !m->booted)
        return -1;
    if (m->fota == DFOTA_MOD_FOTA_UPDATING)
        return 0;
    if (m->fota != DFOTA_MOD_FOTA_DOWNLOADING)
        return -1;
    if (m->http == HTTP_WAIT)
        return until(m->start_at, now_ms);
    if (m->http == HTTP_RUN && m->cfg->http_stall_ms)
        d = until(m->last_data_ms + m->cfg->http_stall_ms, now_ms);
    if (m->http == HTTP_RUN && m->dl_news && m->cfg->progress_ms) {
        e = until(m->last_urc_ms + m->cfg->progress_ms, now_ms);
        if (d < 0 || e < d)
            d = e;
    }
    return d;
}
