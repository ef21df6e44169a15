/*
 * evtx JSON records -> Arrow column buffers, grouped by channel.
 *
 * Why this is hand-written: the `evtx` package hands over one compact JSON document per
 * record. Decoding each into Python dicts and flattening them costs ~20 us a record, six
 * times the parse itself, and the general JSON-to-Arrow readers (pyarrow.json, polars,
 * DuckDB read_json) reject or crawl over evtx's shape-shifting fields (EventID a number in
 * one record and an object in the next, duplicate keys, per-provider EventData). This
 * module reads each record once and appends its fields straight into Arrow buffers.
 *
 * It does exactly what forensics/ingest/evtx.py `event_to_row` does for the common shapes
 * and nothing clever: any record it is not certain about (a float, a nested object without
 * #text, a duplicate System key, a data field named like a core column, an odd timestamp,
 * malformed JSON) is handed back by position and goes through the Python path instead.
 * tests/ingest/test_evtx_fast.py checks both paths give the same table for every EVTX file.
 *
 * flatten(records: list[dict], core_names: tuple[str, ...], max_natives: int = 0)
 *   -> (groups, fallback)
 *   groups:   [(channel | None, positions: bytes(int64), [(name, kind, validity, buf1, buf2)], spilled)]
 *   fallback: [positions the caller must convert itself]
 * kind 0: utf8 (buf1 int32 offsets, buf2 bytes); 1: int64; 2: int32; 3: timestamp[us] (buf1 values).
 * validity is one bit per row, Arrow's LSB order.
 * spilled: with max_natives > 0 and more string data fields than that in a group, the most set
 * ones stay columns and the rest come back sparse, as they were gathered (a dense column costs
 * every row of the group, so one new name per record would cost rows x names):
 *   [(name, rows: bytes(int64 per value), valid: bytes(one byte per value), ends: bytes(int32), data)]
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static inline int buf_reserve(Buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra) cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) return -1;
    b->p = np;
    b->cap = cap;
    return 0;
}

static inline int buf_put(Buf *b, const void *src, size_t n) {
    if (buf_reserve(b, n)) return -1;
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

static void buf_free(Buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

/* ---- results of the small parsing steps ---------------------------------------------- */
enum { OK = 0, NUL = 1, BAIL = 2, NOMEM = 3 };
enum { K_STR = 0, K_I64 = 1, K_I32 = 2, K_TS = 3 };

/* return a step's failure (BAIL or NOMEM) at once */
#define TRY(x)                 \
    do {                       \
        int rc_ = (x);         \
        if (rc_) return rc_;   \
    } while (0)

/* ---- one column being built -------------------------------------------------------- */
/* Columns are sparse (each event type has its own fields), so a column keeps only the rows
 * that set it; the dense Arrow buffers are laid out once, at the end. */
typedef struct {
    char *name;
    size_t name_len;
    uint64_t hash;
    int kind;
    int is_core;      /* a data field of this exact name would overwrite a core column */
    int64_t sets;     /* committed rows that set this column (a Python row with the key) */
    int64_t last_set; /* the row that last set it */
    size_t entries;
    Buf rows;  /* int64 per entry: its row */
    Buf valid; /* one byte per entry: 0 for a null value */
    Buf ends;  /* int32 per entry: end of its bytes in data (strings) */
    Buf data;  /* string bytes, or the fixed-width values */
} Col;

static size_t kind_width(int kind) { return kind == K_I32 ? 4 : 8; }

static Col *col_new(const char *name, size_t len, uint64_t hash, int kind, int is_core) {
    Col *c = calloc(1, sizeof(Col));
    if (!c) return NULL;
    c->name = malloc(len + 1);
    if (!c->name) {
        free(c);
        return NULL;
    }
    memcpy(c->name, name, len);
    c->name[len] = 0;
    c->name_len = len;
    c->hash = hash;
    c->kind = kind;
    c->is_core = is_core;
    c->last_set = -1;
    return c;
}

static void col_free(Col *c) {
    if (!c) return;
    free(c->name);
    buf_free(&c->rows);
    buf_free(&c->valid);
    buf_free(&c->ends);
    buf_free(&c->data);
    free(c);
}

static int64_t col_last_row(const Col *c) {
    int64_t r;
    memcpy(&r, c->rows.p + 8 * (c->entries - 1), 8);
    return r;
}

/* Drop the entry of `row` if the column's last entry is for it, and any bytes of a value
 * left half-written. */
static void col_drop(Col *c, int64_t row) {
    if (c->entries && col_last_row(c) == row) {
        c->entries--;
        c->rows.len -= 8;
        c->valid.len--;
        if (c->kind == K_STR) c->ends.len -= 4;
    }
    if (c->kind == K_STR) {
        int32_t end = 0;
        if (c->entries) memcpy(&end, c->ends.p + 4 * (c->entries - 1), 4);
        c->data.len = (size_t)end;
    } else {
        c->data.len = kind_width(c->kind) * c->entries;
    }
}

/* About to set `row`: an earlier value of the same row is undone (a later field of the same
 * name wins, as in a Python dict). */
static int col_begin(Col *c, int64_t row) {
    if (c->last_set != row) {
        c->sets++;
        c->last_set = row;
    }
    col_drop(c, row);
    return OK;
}

/* Close a value whose bytes were appended to c->data since col_begin. */
static int col_end(Col *c, int64_t row, int valid) {
    if (c->data.len > INT32_MAX) return BAIL;
    char v = (char)valid;
    if (buf_put(&c->rows, &row, 8) || buf_put(&c->valid, &v, 1)) return NOMEM;
    if (c->kind == K_STR) {
        int32_t end = (int32_t)c->data.len;
        if (buf_put(&c->ends, &end, 4)) return NOMEM;
    }
    c->entries++;
    return OK;
}

static int col_set_fixed(Col *c, int64_t row, int64_t value) {
    col_begin(c, row);
    if (c->kind == K_I32) {
        int32_t v32 = (int32_t)value;
        if (buf_put(&c->data, &v32, 4)) return NOMEM;
    } else if (buf_put(&c->data, &value, 8)) {
        return NOMEM;
    }
    return col_end(c, row, 1);
}

static int col_set_str(Col *c, int64_t row, const char *s, size_t len) {
    col_begin(c, row);
    if (buf_put(&c->data, s, len)) return NOMEM;
    return col_end(c, row, 1);
}

/* ---- a channel's rows: columns in an open-addressing table --------------------------- */
typedef struct {
    char *channel; /* NULL: no channel */
    size_t channel_len;
    int64_t rows;
    Buf positions; /* int64 per row: index in the input list */
    Col **slots;
    size_t nslots, ncols;
    Col **order; /* columns in creation order */
    size_t order_cap;
    /* the columns the previous record looked up, in order: records of one event type ask for
     * the same names in the same order, so most lookups are one comparison, no hashing */
    Col **seq;
    size_t seq_len, seq_pos, seq_cap;
} Group;

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

typedef struct {
    const char **names;
    size_t *lens;
    size_t n;
} CoreSet;

static int core_has(const CoreSet *cs, const char *s, size_t n) {
    for (size_t i = 0; i < cs->n; i++)
        if (cs->lens[i] == n && memcmp(cs->names[i], s, n) == 0) return 1;
    return 0;
}

static int group_grow(Group *g) {
    size_t nslots = g->nslots ? g->nslots * 2 : 64;
    Col **slots = calloc(nslots, sizeof(Col *));
    if (!slots) return NOMEM;
    for (size_t i = 0; i < g->nslots; i++) {
        Col *c = g->slots[i];
        if (!c) continue;
        size_t j = c->hash & (nslots - 1);
        while (slots[j]) j = (j + 1) & (nslots - 1);
        slots[j] = c;
    }
    free(g->slots);
    g->slots = slots;
    g->nslots = nslots;
    return OK;
}

static Col *group_col_lookup(Group *g, const char *name, size_t len, int kind, const CoreSet *cs);

static Col *group_col(Group *g, const char *name, size_t len, int kind, const CoreSet *cs) {
    if (g->seq_pos < g->seq_len) {
        Col *c = g->seq[g->seq_pos];
        if (c->name_len == len && memcmp(c->name, name, len) == 0) {
            g->seq_pos++;
            return c;
        }
    }
    Col *c = group_col_lookup(g, name, len, kind, cs);
    if (!c) return NULL;
    if (g->seq_pos == g->seq_cap) {
        size_t cap = g->seq_cap ? g->seq_cap * 2 : 64;
        Col **ns = realloc(g->seq, cap * sizeof(Col *));
        if (!ns) return c; /* the cache is only a shortcut */
        g->seq = ns;
        g->seq_cap = cap;
    }
    g->seq[g->seq_pos++] = c;
    if (g->seq_pos > g->seq_len) g->seq_len = g->seq_pos;
    return c;
}

static Col *group_col_lookup(Group *g, const char *name, size_t len, int kind, const CoreSet *cs) {
    uint64_t h = fnv(name, len);
    if (g->nslots) {
        size_t j = h & (g->nslots - 1);
        for (Col *c; (c = g->slots[j]); j = (j + 1) & (g->nslots - 1))
            if (c->hash == h && c->name_len == len && memcmp(c->name, name, len) == 0) return c;
    }
    if (2 * (g->ncols + 1) > g->nslots && group_grow(g)) return NULL;
    if (g->ncols == g->order_cap) {
        size_t cap = g->order_cap ? g->order_cap * 2 : 32;
        Col **o = realloc(g->order, cap * sizeof(Col *));
        if (!o) return NULL;
        g->order = o;
        g->order_cap = cap;
    }
    Col *c = col_new(name, len, h, kind, core_has(cs, name, len));
    if (!c) return NULL;
    size_t j = h & (g->nslots - 1);
    while (g->slots[j]) j = (j + 1) & (g->nslots - 1);
    g->slots[j] = c;
    g->order[g->ncols++] = c;
    return c;
}

static void group_free(Group *g) {
    for (size_t i = 0; i < g->ncols; i++) col_free(g->order[i]);
    free(g->order);
    free(g->seq);
    free(g->slots);
    free(g->channel);
    buf_free(&g->positions);
}

/* ---- JSON scanning ------------------------------------------------------------------- */
typedef struct {
    const char *p, *end;
} Cur;

static inline void ws(Cur *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static inline int eat(Cur *c, char ch) {
    ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A string's raw span (between the quotes); c->p must be on the opening quote. memchr finds
 * the closing quote: the bulk of a record is string bytes. */
static int raw_string(Cur *c, const char **s, size_t *n, int *escaped) {
    if (c->p >= c->end || *c->p != '"') return BAIL;
    const char *start = c->p + 1, *q = start;
    for (;;) {
        q = memchr(q, '"', (size_t)(c->end - q));
        if (!q) return BAIL;
        const char *b = q;
        while (b > start && b[-1] == '\\') b--;
        if (((q - b) & 1) == 0) break; /* an even run of backslashes: the quote is real */
        q++;
    }
    *s = start;
    *n = (size_t)(q - start);
    *escaped = memchr(start, '\\', *n) != NULL;
    c->p = q + 1;
    return OK;
}

static int hexval(const char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = s[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') v |= (unsigned)(ch - 'A' + 10);
        else return BAIL;
    }
    *out = v;
    return OK;
}

/* Decode a raw string span into UTF-8 at the end of `out`. Lone surrogates: BAIL (the
 * Python path decides what they are). */
static int unescape(Buf *out, const char *s, size_t n, int escaped) {
    if (!escaped) return buf_put(out, s, n) ? NOMEM : OK;
    if (buf_reserve(out, n)) return NOMEM;
    const char *e = s + n;
    while (s < e) {
        const char *bs = memchr(s, '\\', (size_t)(e - s));
        if (!bs) return buf_put(out, s, (size_t)(e - s)) ? NOMEM : OK;
        if (buf_put(out, s, (size_t)(bs - s))) return NOMEM;
        if (bs + 1 >= e) return BAIL;
        char ch = bs[1];
        s = bs + 2;
        char lit;
        switch (ch) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u': {
            unsigned cp;
            if (e - s < 4 || hexval(s, &cp)) return BAIL;
            s += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (e - s < 6 || s[0] != '\\' || s[1] != 'u' || hexval(s + 2, &lo)) return BAIL;
                if (lo < 0xDC00 || lo > 0xDFFF) return BAIL;
                s += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return BAIL;
            }
            char u[4];
            size_t k;
            if (cp < 0x80) {
                u[0] = (char)cp;
                k = 1;
            } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                k = 2;
            } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                k = 3;
            } else {
                u[0] = (char)(0xF0 | (cp >> 18));
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[3] = (char)(0x80 | (cp & 0x3F));
                k = 4;
            }
            if (buf_put(out, u, k)) return NOMEM;
            continue;
        }
        default: return BAIL;
        }
        if (buf_put(out, &lit, 1)) return NOMEM;
    }
    return OK;
}

static int lit(Cur *c, const char *word, size_t n) {
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0) return BAIL;
    c->p += n;
    return OK;
}

/* A number's span; *integer tells whether it has no fraction or exponent. */
static int number(Cur *c, const char **s, size_t *n, int *integer) {
    const char *q = c->p;
    *integer = 1;
    if (q < c->end && *q == '-') q++;
    if (q >= c->end || *q < '0' || *q > '9') return BAIL;
    if (*q == '0') q++;
    else
        while (q < c->end && *q >= '0' && *q <= '9') q++;
    if (q < c->end && *q == '.') {
        *integer = 0;
        q++;
        if (q >= c->end || *q < '0' || *q > '9') return BAIL;
        while (q < c->end && *q >= '0' && *q <= '9') q++;
    }
    if (q < c->end && (*q == 'e' || *q == 'E')) {
        *integer = 0;
        q++;
        if (q < c->end && (*q == '+' || *q == '-')) q++;
        if (q >= c->end || *q < '0' || *q > '9') return BAIL;
        while (q < c->end && *q >= '0' && *q <= '9') q++;
    }
    *s = c->p;
    *n = (size_t)(q - c->p);
    c->p = q;
    return OK;
}

static int skip_value(Cur *c, int depth);

/* orjson reads integers from -2^63 to 2^64-1 and fails the record on others, so those stay
 * on the Python path, which rejects them the same way. */
static int int_in_json_range(const char *s, size_t n) {
    if (s[0] == '-') return n - 1 < 19 || (n - 1 == 19 && memcmp(s + 1, "9223372036854775808", 19) <= 0);
    return n < 20 || (n == 20 && memcmp(s, "18446744073709551615", 20) <= 0);
}

/* Walk an object: calls back per key with the cursor on the value; the callback must
 * consume the value. */
typedef int (*KeyFn)(void *ctx, const char *key, size_t klen, Cur *c, int depth);

static int key_text(Cur *c, Buf *scratch, const char **k, size_t *kn) {
    const char *s;
    size_t n;
    int esc, r;
    ws(c);
    if ((r = raw_string(c, &s, &n, &esc))) return r;
    if (esc) {
        scratch->len = 0;
        if ((r = unescape(scratch, s, n, 1))) return r;
        *k = scratch->p;
        *kn = scratch->len;
    } else {
        *k = s;
        *kn = n;
    }
    return OK;
}

static int walk_object(Cur *c, int depth, KeyFn fn, void *ctx) {
    if (depth > MAX_DEPTH) return BAIL;
    if (!eat(c, '{')) return BAIL;
    if (eat(c, '}')) return OK;
    Buf scratch = {0};
    int r = OK;
    for (;;) {
        const char *k;
        size_t kn;
        if ((r = key_text(c, &scratch, &k, &kn))) break;
        if (!eat(c, ':')) {
            r = BAIL;
            break;
        }
        ws(c);
        if ((r = fn(ctx, k, kn, c, depth + 1))) break;
        if (eat(c, ',')) continue;
        if (eat(c, '}')) break;
        r = BAIL;
        break;
    }
    buf_free(&scratch);
    return r;
}

static int skip_value(Cur *c, int depth) {
    ws(c);
    if (c->p >= c->end || depth > MAX_DEPTH) return BAIL;
    const char *s;
    size_t n;
    int esc, integer, r;
    switch (*c->p) {
    case '"': return raw_string(c, &s, &n, &esc);
    case '{':
        c->p++;
        if (eat(c, '}')) return OK;
        for (;;) {
            ws(c);
            if ((r = raw_string(c, &s, &n, &esc))) return r;
            if (!eat(c, ':')) return BAIL;
            if ((r = skip_value(c, depth + 1))) return r;
            if (eat(c, ',')) continue;
            if (eat(c, '}')) return OK;
            return BAIL;
        }
    case '[':
        c->p++;
        if (eat(c, ']')) return OK;
        for (;;) {
            if ((r = skip_value(c, depth + 1))) return r;
            if (eat(c, ',')) continue;
            if (eat(c, ']')) return OK;
            return BAIL;
        }
    case 't': return lit(c, "true", 4);
    case 'f': return lit(c, "false", 5);
    case 'n': return lit(c, "null", 4);
    default: return number(c, &s, &n, &integer);
    }
}

/* A JSON value's span, skipped. */
typedef struct {
    const char *s, *e;
} Span;

static int span_of(Cur *c, int depth, Span *out) {
    ws(c);
    out->s = c->p;
    int r = skip_value(c, depth);
    out->e = c->p;
    return r;
}

static int span_null(const Span *sp) { return sp->s == NULL || *sp->s == 'n'; }

/* ---- Python's _text(): a value as the string Windows would render ------------------- */
static int text_of(Buf *out, Cur *c, int depth);

typedef struct {
    Buf *out;
    size_t mark;
    int found, status;
} TextObj;

static int text_obj_key(void *ctx, const char *k, size_t kn, Cur *c, int depth) {
    TextObj *t = ctx;
    if (kn == 5 && memcmp(k, "#text", 5) == 0) {
        t->out->len = t->mark; /* the last #text wins */
        t->found = 1;
        t->status = text_of(t->out, c, depth);
        return t->status == BAIL || t->status == NOMEM ? t->status : OK;
    }
    return skip_value(c, depth);
}

static int text_of(Buf *out, Cur *c, int depth) {
    ws(c);
    if (c->p >= c->end || depth > MAX_DEPTH) return BAIL;
    const char *s;
    size_t n;
    int esc, integer, r;
    switch (*c->p) {
    case '"':
        if ((r = raw_string(c, &s, &n, &esc))) return r;
        return unescape(out, s, n, esc);
    case 'n': return lit(c, "null", 4) ? BAIL : NUL;
    case 't':
        if (lit(c, "true", 4)) return BAIL;
        return buf_put(out, "true", 4) ? NOMEM : OK;
    case 'f':
        if (lit(c, "false", 5)) return BAIL;
        return buf_put(out, "false", 5) ? NOMEM : OK;
    case '{': {
        /* {"#text": x, ...} renders as x; any other object is JSON text: the Python path. */
        TextObj t = {out, out->len, 0, NUL};
        if ((r = walk_object(c, depth, text_obj_key, &t))) return r;
        if (!t.found) return BAIL;
        if (t.status == NUL) out->len = t.mark;
        return t.status;
    }
    case '[': {
        /* items that are not null, one per line */
        c->p++;
        int first = 1;
        if (eat(c, ']')) return OK;
        for (;;) {
            size_t mark = out->len;
            if (!first && buf_put(out, "\n", 1)) return NOMEM;
            r = text_of(out, c, depth + 1);
            if (r == BAIL || r == NOMEM) return r;
            if (r == NUL) out->len = mark;
            else first = 0;
            if (eat(c, ',')) continue;
            if (eat(c, ']')) return OK;
            return BAIL;
        }
    }
    default:
        if ((r = number(c, &s, &n, &integer))) return r;
        /* floats print differently in Python; integers past 64 bits are orjson's call */
        if (!integer || !int_in_json_range(s, n)) return BAIL;
        return buf_put(out, s, n) ? NOMEM : OK;
    }
}

/* A plain string (or null) value, decoded into `out`; other types: BAIL. */
static int plain_string(Buf *out, const Span *sp) {
    if (span_null(sp)) return NUL;
    if (*sp->s != '"') return BAIL;
    Cur c = {sp->s, sp->e};
    const char *s;
    size_t n;
    int esc, r;
    if ((r = raw_string(&c, &s, &n, &esc))) return r;
    return unescape(out, s, n, esc);
}

/* An integer literal in [lo, hi]. */
static int int_span(const Span *sp, int64_t lo, int64_t hi, int64_t *v) {
    Cur c = {sp->s, sp->e};
    const char *s;
    size_t n;
    int integer;
    if (sp->s == NULL || (*sp->s != '-' && (*sp->s < '0' || *sp->s > '9'))) return BAIL;
    if (number(&c, &s, &n, &integer) || !integer || n > 18) return BAIL;
    char tmp[24];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    long long x = strtoll(tmp, NULL, 10);
    if (x < lo || x > hi) return BAIL;
    *v = x;
    return OK;
}

/* ---- object lookups (last key wins, as json.loads does) ----------------------------- */
typedef struct {
    const char *key;
    size_t klen;
    Span found;
    int seen;
} Get;

static int get_key(void *ctx, const char *k, size_t kn, Cur *c, int depth) {
    Get *g = ctx;
    if (kn == g->klen && memcmp(k, g->key, kn) == 0) {
        g->seen = 1;
        return span_of(c, depth, &g->found);
    }
    return skip_value(c, depth);
}

/* obj[key] when sp is an object holding it; *seen = 0 otherwise. */
static int obj_get(const Span *sp, const char *key, Span *out, int *seen) {
    *seen = 0;
    out->s = out->e = NULL;
    if (sp->s == NULL || *sp->s != '{') return OK;
    Get g = {key, strlen(key), {NULL, NULL}, 0};
    Cur c = {sp->s, sp->e};
    int r = walk_object(&c, 1, get_key, &g);
    if (r) return r;
    *seen = g.seen;
    *out = g.found;
    return OK;
}

/* Python's _attrs(): node["#attributes"] when both are objects, else an empty span. */
static int attrs_of(const Span *node, Span *out) {
    int seen, r;
    if ((r = obj_get(node, "#attributes", out, &seen))) return r;
    if (!seen || out->s == NULL || *out->s != '{') out->s = out->e = NULL;
    return OK;
}

static int obj_nonempty(const Span *sp) {
    if (sp->s == NULL || *sp->s != '{') return 0;
    Cur c = {sp->s + 1, sp->e};
    ws(&c);
    return c.p < c.end && *c.p != '}';
}

/* ---- one record ---------------------------------------------------------------------- */
typedef struct {
    Group *groups;
    size_t ngroups, gcap;
    const CoreSet *core;
    Buf tmp;
} State;

typedef struct {
    State *st;
    Group *g;
    int64_t row;
} Rec;

static Col *rcol(Rec *r, const char *name, int kind) {
    return group_col(r->g, name, strlen(name), kind, r->st->core);
}

/* Set a string column of this row from a value rendered by text_of; null leaves the row null
 * but makes the column exist (the Python row has the key). */
static int set_text_cur(Rec *r, Col *col, Cur *c, int depth) {
    if (!col || col->kind != K_STR) return col ? BAIL : NOMEM;
    if (col_begin(col, r->row)) return NOMEM;
    size_t mark = col->data.len;
    int t = c ? text_of(&col->data, c, depth) : NUL;
    if (t == BAIL || t == NOMEM) return t;
    if (t == NUL) col->data.len = mark;
    return col_end(col, r->row, t == OK);
}

static int set_text(Rec *r, Col *col, const Span *sp, int depth) {
    Cur c = {sp->s, sp->e};
    return set_text_cur(r, col, sp->s ? &c : NULL, depth);
}

/* A data field: a new column unless it would land on a core column. */
static Col *data_col(Rec *r, const char *k, size_t kn) {
    Col *col = group_col(r->g, k, kn, K_STR, r->st->core);
    if (col && col->is_core) return NULL;
    return col;
}

static int data_key(void *ctx, const char *k, size_t kn, Cur *c, int depth) {
    Rec *r = ctx;
    if (kn == 11 && memcmp(k, "#attributes", 11) == 0) return skip_value(c, depth);
    const char *name = k;
    if (kn == 5 && memcmp(k, "#text", 5) == 0) {
        name = "Data";
        kn = 4;
    }
    Col *col = data_col(r, name, kn);
    if (!col) return BAIL;
    return set_text_cur(r, col, c, depth);
}

static int event_data(Rec *r, Cur *c) {
    ws(c);
    if (c->p >= c->end) return BAIL;
    if (*c->p == '{') return walk_object(c, 2, data_key, r);
    if (*c->p == 'n') return lit(c, "null", 4);
    if (c->end - c->p >= 2 && c->p[0] == '"' && c->p[1] == '"') { /* "" : nothing */
        c->p += 2;
        return OK;
    }
    Col *col = data_col(r, "Data", 4);
    return col ? set_text_cur(r, col, c, 2) : BAIL;
}

/* Keys of an object, to refuse duplicates where Python's last-wins would drop whole subtrees.
 * Keys are compared by hash: a collision only sends the record to the Python path. */
typedef struct {
    uint64_t hashes[64];
    size_t n;
    int dup;
    int has_text;
} KeySet;

static int collect_key(void *ctx, const char *k, size_t kn, Cur *c, int depth) {
    KeySet *ks = ctx;
    if (kn == 5 && memcmp(k, "#text", 5) == 0) ks->has_text = 1;
    uint64_t h = fnv(k, kn);
    for (size_t i = 0; i < ks->n; i++)
        if (ks->hashes[i] == h) ks->dup = 1;
    if (ks->n == 64) ks->dup = 1;
    else ks->hashes[ks->n++] = h;
    return skip_value(c, depth);
}

static int keys_of(const Span *sp, KeySet *ks) {
    ks->n = 0;
    ks->dup = 0;
    ks->has_text = 0;
    Cur c = {sp->s, sp->e};
    return walk_object(&c, 1, collect_key, ks);
}

typedef struct {
    Rec *r;
    const char *outer;
    size_t outer_len;
} Inner;

static int user_sub_key(void *ctx, const char *k, size_t kn, Cur *c, int depth) {
    Inner *in = ctx;
    if (kn == 11 && memcmp(k, "#attributes", 11) == 0) return skip_value(c, depth);
    Buf *name = &in->r->st->tmp;
    name->len = 0;
    if (buf_put(name, in->outer, in->outer_len) || buf_put(name, "_", 1) || buf_put(name, k, kn)) return NOMEM;
    Col *col = data_col(in->r, name->p, name->len);
    if (!col) return BAIL;
    return set_text_cur(in->r, col, c, depth);
}

/* Does the row path descend into this UserData value? Only for an object without #text;
 * one with repeated keys (Python keeps only the last) goes to the Python path. */
static int descends(const Span *v, int *yes) {
    *yes = 0;
    if (*v->s != '{') return OK;
    KeySet ks;
    TRY(keys_of(v, &ks));
    if (ks.dup) return BAIL;
    *yes = !ks.has_text;
    return OK;
}

static int user_inner_key(void *ctx, const char *k, size_t kn, Cur *c, int depth) {
    Rec *r = ctx;
    if (kn == 11 && memcmp(k, "#attributes", 11) == 0) return skip_value(c, depth);
    Span v;
    int deeper;
    TRY(span_of(c, depth, &v));
    TRY(descends(&v, &deeper));
    if (deeper) {
        /* one level more: {"Key": {"Sub": v}} -> Key_Sub */
        char keycopy[256];
        if (kn >= sizeof keycopy) return BAIL;
        memcpy(keycopy, k, kn);
        Inner in = {r, keycopy, kn};
        Cur vc = {v.s, v.e};
        return walk_object(&vc, depth, user_sub_key, &in);
    }
    Col *col = data_col(r, k, kn);
    return col ? set_text(r, col, &v, depth) : BAIL;
}

static int user_wrapper_key(void *ctx, const char *k, size_t kn, Cur *c, int depth) {
    Rec *r = ctx;
    if (kn == 11 && memcmp(k, "#attributes", 11) == 0) return skip_value(c, depth);
    Span v;
    int deeper;
    TRY(span_of(c, depth, &v));
    TRY(descends(&v, &deeper));
    if (deeper) {
        Cur vc = {v.s, v.e};
        return walk_object(&vc, depth, user_inner_key, r);
    }
    Col *col = data_col(r, k, kn);
    return col ? set_text(r, col, &v, depth) : BAIL;
}

static int user_data(Rec *r, const Span *sp) {
    if (span_null(sp) || *sp->s != '{') return OK;
    KeySet ks;
    int rc;
    if ((rc = keys_of(sp, &ks))) return rc;
    if (ks.dup) return BAIL;
    Cur c = {sp->s, sp->e};
    return walk_object(&c, 2, user_wrapper_key, r);
}

/* ---- System ------------------------------------------------------------------------- */
enum {
    S_PROVIDER, S_EVENTID, S_RECORDID, S_CHANNEL, S_COMPUTER, S_TIME, S_VERSION, S_LEVEL, S_TASK,
    S_OPCODE, S_KEYWORDS, S_EXECUTION, S_SECURITY, S_CORRELATION, S_COUNT
};
#define KEY(s) {s, sizeof(s) - 1}
static const struct {
    const char *name;
    size_t len;
} SYS_KEYS[S_COUNT] = {
    KEY("Provider"), KEY("EventID"), KEY("EventRecordID"), KEY("Channel"), KEY("Computer"), KEY("TimeCreated"),
    KEY("Version"), KEY("Level"), KEY("Task"), KEY("Opcode"), KEY("Keywords"), KEY("Execution"), KEY("Security"),
    KEY("Correlation"),
};

typedef struct {
    Span v[S_COUNT];
    int dup;
} Sys;

static int sys_key(void *ctx, const char *k, size_t kn, Cur *c, int depth) {
    Sys *s = ctx;
    for (int i = 0; i < S_COUNT; i++) {
        if (SYS_KEYS[i].len == kn && memcmp(SYS_KEYS[i].name, k, kn) == 0) {
            if (s->v[i].s) s->dup = 1;
            return span_of(c, depth, &s->v[i]);
        }
    }
    return skip_value(c, depth);
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int digits(const char *s, int n, int64_t *v) {
    int64_t x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return BAIL;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return OK;
}

/* evtx's SystemTime, "YYYY-MM-DDTHH:MM:SS[.ffffff]Z", as microseconds since the epoch. Other
 * shapes go to the Python path, which reads any ISO 8601. */
static int parse_systime(const char *s, size_t n, int64_t *us) {
    int64_t y, mo, d, h, mi, se, frac = 0;
    if (n != 20 && n != 27) return BAIL;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[n - 1] != 'Z') return BAIL;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) || digits(s + 11, 2, &h) ||
        digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return BAIL;
    if (n == 27 && (s[19] != '.' || digits(s + 20, 6, &frac))) return BAIL;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59) return BAIL;
    if (d > mdays[mo - 1] + (mo == 2 && is_leap(y))) return BAIL;
    *us = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se) * 1000000) + frac;
    return OK;
}

static Group *group_for(State *st, const char *ch, size_t chn, int has) {
    for (size_t i = 0; i < st->ngroups; i++) {
        Group *g = &st->groups[i];
        if ((g->channel != NULL) == has && (!has || (g->channel_len == chn && memcmp(g->channel, ch, chn) == 0)))
            return g;
    }
    if (st->ngroups == st->gcap) {
        size_t cap = st->gcap ? st->gcap * 2 : 8;
        Group *ng = realloc(st->groups, cap * sizeof(Group));
        if (!ng) return NULL;
        st->groups = ng;
        st->gcap = cap;
    }
    Group *g = &st->groups[st->ngroups];
    memset(g, 0, sizeof *g);
    if (has) {
        g->channel = malloc(chn + 1);
        if (!g->channel) return NULL;
        memcpy(g->channel, ch, chn);
        g->channel[chn] = 0;
        g->channel_len = chn;
    }
    st->ngroups++;
    return g;
}

/* A string attribute of an #attributes object: plain string or null, else BAIL. */
static int attr_str(const Span *attrs, const char *name, Buf *out, int *present) {
    Span v;
    int seen;
    TRY(obj_get(attrs, name, &v, &seen));
    *present = 0;
    if (!seen) return OK;
    out->len = 0;
    int t = plain_string(out, &v);
    if (t == BAIL || t == NOMEM) return t;
    *present = t == OK ? 1 : 2; /* 2: null */
    return OK;
}

static int set_buf(Rec *r, const char *col, const Buf *b) {
    Col *c = rcol(r, col, K_STR);
    if (!c) return NOMEM;
    return col_set_str(c, r->row, b->p ? b->p : "", b->len);
}

static int system_cols(Rec *r, Sys *s) {
    Buf *tmp = &r->st->tmp;
    Span attrs;
    int present;
    /* provider: Name when non-empty, else EventSourceName as it is */
    TRY(attrs_of(&s->v[S_PROVIDER], &attrs));
    if (attrs.s) {
        TRY(attr_str(&attrs, "Name", tmp, &present));
        if (present == 1 && tmp->len) {
            TRY(set_buf(r, "provider", tmp));
        } else {
            TRY(attr_str(&attrs, "EventSourceName", tmp, &present));
            if (present == 1) TRY(set_buf(r, "provider", tmp));
        }
        TRY(attr_str(&attrs, "Guid", tmp, &present));
        if (present == 1 && tmp->len) TRY(set_buf(r, "Provider_Guid", tmp));
    }
    /* event id, with Qualifiers */
    Span *eid = &s->v[S_EVENTID];
    if (eid->s && *eid->s == '{') {
        TRY(attrs_of(eid, &attrs));
        if (attrs.s) {
            Span q;
            int seen;
            TRY(obj_get(&attrs, "Qualifiers", &q, &seen));
            if (seen && !span_null(&q) && !(*q.s == '"' && q.e - q.s == 2)) {
                if (*q.s != '"' && *q.s != '-' && (*q.s < '0' || *q.s > '9')) return BAIL;
                TRY(set_text(r, rcol(r, "Qualifiers", K_STR), &q, 3));
            }
        }
        Span t;
        int seen;
        TRY(obj_get(eid, "#text", &t, &seen));
        if (seen && !span_null(&t)) {
            int64_t v;
            TRY(int_span(&t, INT32_MIN, INT32_MAX, &v));
            Col *c = rcol(r, "event_id", K_I32);
            if (!c || c->kind != K_I32) return BAIL;
            TRY(col_set_fixed(c, r->row, v));
        }
    } else if (eid->s && !span_null(eid)) {
        int64_t v;
        TRY(int_span(eid, INT32_MIN, INT32_MAX, &v));
        Col *c = rcol(r, "event_id", K_I32);
        if (!c || c->kind != K_I32) return BAIL;
        TRY(col_set_fixed(c, r->row, v));
    }
    /* record id: an integer, or the Python path fills it from the parser's own number */
    {
        int64_t v;
        TRY(int_span(&s->v[S_RECORDID], INT64_MIN + 1, INT64_MAX, &v));
        Col *c = rcol(r, "record_id", K_I64);
        if (!c || c->kind != K_I64) return BAIL;
        TRY(col_set_fixed(c, r->row, v));
    }
    /* channel was read by the caller to pick the group */
    if (r->g->channel) {
        Col *c = rcol(r, "channel", K_STR);
        if (!c) return NOMEM;
        TRY(col_set_str(c, r->row, r->g->channel, r->g->channel_len));
    }
    if (s->v[S_COMPUTER].s) {
        tmp->len = 0;
        int t = plain_string(tmp, &s->v[S_COMPUTER]);
        if (t == BAIL || t == NOMEM) return t;
        if (t == OK) TRY(set_buf(r, "host", tmp));
    }
    /* time: required here (the Python path falls back to the parser's timestamp) */
    TRY(attrs_of(&s->v[S_TIME], &attrs));
    if (!attrs.s) return BAIL;
    TRY(attr_str(&attrs, "SystemTime", tmp, &present));
    if (present != 1 || tmp->len == 0) return BAIL;
    {
        int64_t us;
        TRY(parse_systime(tmp->p, tmp->len, &us));
        TRY(set_buf(r, "ts_raw", tmp));
        Col *c = rcol(r, "ts", K_TS);
        if (!c || c->kind != K_TS) return BAIL;
        TRY(col_set_fixed(c, r->row, us));
    }
    static const int plain[] = {S_VERSION, S_LEVEL, S_TASK, S_OPCODE, S_KEYWORDS};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        Span *v = &s->v[plain[i]];
        if (v->s && !span_null(v)) TRY(set_text(r, rcol(r, SYS_KEYS[plain[i]].name, K_STR), v, 3));
    }
    TRY(attrs_of(&s->v[S_EXECUTION], &attrs));
    if (obj_nonempty(&attrs)) {
        Span v;
        int seen;
        TRY(obj_get(&attrs, "ProcessID", &v, &seen));
        TRY(set_text(r, rcol(r, "Execution_ProcessID", K_STR), seen ? &v : &(Span){NULL, NULL}, 4));
        TRY(obj_get(&attrs, "ThreadID", &v, &seen));
        TRY(set_text(r, rcol(r, "Execution_ThreadID", K_STR), seen ? &v : &(Span){NULL, NULL}, 4));
    }
    static const struct {
        int key;
        const char *attr, *col;
    } truthy[] = {
        {S_SECURITY, "UserID", "Security_UserID"},
        {S_CORRELATION, "ActivityID", "Correlation_ActivityID"},
    };
    for (size_t i = 0; i < 2; i++) {
        TRY(attrs_of(&s->v[truthy[i].key], &attrs));
        if (!attrs.s) continue;
        Span v;
        int seen;
        TRY(obj_get(&attrs, truthy[i].attr, &v, &seen));
        if (!seen || span_null(&v)) continue;
        if (*v.s != '"') return BAIL; /* a non-string value: the Python path */
        tmp->len = 0;
        TRY(plain_string(tmp, &v));
        if (tmp->len) TRY(set_buf(r, truthy[i].col, tmp));
    }
    return OK;
}

static int rendering(Rec *r, const Span *sp) {
    Span msg;
    int seen;
    if (span_null(sp) || *sp->s != '{') return OK;
    TRY(obj_get(sp, "Message", &msg, &seen));
    if (!seen || span_null(&msg)) return OK;
    /* falsy values ("" / 0 / false / [] / {}) set nothing in the Python path */
    Cur c = {msg.s, msg.e};
    ws(&c);
    if ((*msg.s == '"' && msg.e - msg.s == 2) || (msg.e - msg.s == 1 && *msg.s == '0') ||
        (msg.e - msg.s == 5 && memcmp(msg.s, "false", 5) == 0))
        return OK;
    if (*msg.s == '[' || *msg.s == '{') {
        Cur in = {msg.s + 1, msg.e};
        ws(&in);
        if (in.p < in.end && (*in.p == ']' || *in.p == '}')) return OK;
    }
    return set_text(r, rcol(r, "message", K_STR), &msg, 3);
}

/* System: its keys' spans, then the group (by channel) and the System columns of a new row. */
static int system_section(State *st, Cur *c, Rec *r) {
    Sys sys;
    memset(&sys, 0, sizeof sys);
    TRY(walk_object(c, 2, sys_key, &sys));
    if (sys.dup) return BAIL;
    Buf *tmp = &st->tmp;
    tmp->len = 0;
    int has_ch = 0;
    if (sys.v[S_CHANNEL].s) {
        int t = plain_string(tmp, &sys.v[S_CHANNEL]);
        if (t == BAIL || t == NOMEM) return t;
        has_ch = t == OK;
    }
    r->g = group_for(st, tmp->p ? tmp->p : "", tmp->len, has_ch);
    if (!r->g) return NOMEM;
    r->row = r->g->rows;
    r->g->seq_pos = 0;
    return system_cols(r, &sys);
}

/* Event's children in one pass. Python reads System, then EventData, then UserData whatever
 * their order in the text; evtx writes them in that order, and any other order (or a
 * repeated child, where Python keeps the last) goes to the Python path. */
typedef struct {
    State *st;
    Rec r;
    int seen; /* bit per child: 1 System, 2 EventData, 4 UserData, 8 RenderingInfo */
} Ev;

static int ev_key(void *ctx, const char *k, size_t kn, Cur *c, int depth) {
    Ev *e = ctx;
    int bit = 0;
    if (kn == 6 && memcmp(k, "System", 6) == 0) bit = 1;
    else if (kn == 9 && memcmp(k, "EventData", 9) == 0) bit = 2;
    else if (kn == 8 && memcmp(k, "UserData", 8) == 0) bit = 4;
    else if (kn == 13 && memcmp(k, "RenderingInfo", 13) == 0) bit = 8;
    if (!bit) return skip_value(c, depth);
    if (e->seen & bit) return BAIL;
    if (bit != 1 && !(e->seen & 1)) return BAIL;
    if (bit == 2 && (e->seen & 4)) return BAIL;
    e->seen |= bit;
    ws(c);
    if (bit == 1) {
        if (c->p >= c->end || *c->p != '{') return BAIL;
        return system_section(e->st, c, &e->r);
    }
    if (bit == 2) return event_data(&e->r, c);
    Span v;
    TRY(span_of(c, depth, &v));
    if (bit == 4) return user_data(&e->r, &v);
    return rendering(&e->r, &v);
}

typedef struct {
    Ev ev;
    int count;
} Top;

static int top_key(void *ctx, const char *k, size_t kn, Cur *c, int depth) {
    Top *t = ctx;
    if (kn == 5 && memcmp(k, "Event", 5) == 0) {
        if (t->count++) return BAIL; /* Python keeps the last "Event": let it */
        ws(c);
        if (c->p >= c->end || *c->p != '{') return BAIL;
        TRY(walk_object(c, depth, ev_key, &t->ev));
        return (t->ev.seen & 1) ? OK : BAIL;
    }
    return skip_value(c, depth);
}

static int record(State *st, const char *json, size_t len, int64_t pos) {
    Cur c = {json, json + len};
    Top top;
    memset(&top, 0, sizeof top);
    top.ev.st = st;
    top.ev.r.st = st;
    int rc = walk_object(&c, 0, top_key, &top);
    if (!rc) {
        ws(&c);
        if (c.p != c.end || top.count != 1) rc = BAIL;
    }
    Group *g = top.ev.r.g;
    if (!rc && buf_put(&g->positions, &pos, 8)) rc = NOMEM;
    if (rc) {
        if (g) {
            int64_t row = top.ev.r.row;
            for (size_t i = 0; i < g->ncols; i++) {
                Col *col = g->order[i];
                if (col->last_set == row) {
                    col->sets--;
                    col->last_set = -1;
                }
                col_drop(col, row);
            }
        }
        return rc;
    }
    g->rows++;
    return OK;
}

/* ---- Python glue --------------------------------------------------------------------- */
/* The dense Arrow buffers of a column over `rows` rows: validity bits, then int32 offsets
 * (strings) or the values (fixed width); rows the column never set are null. */
static PyObject *column_tuple(const Col *c, int64_t rows) {
    PyObject *valid = PyBytes_FromStringAndSize(NULL, (rows + 7) / 8);
    size_t width = c->kind == K_STR ? 4 : kind_width(c->kind);
    size_t nvals = c->kind == K_STR ? (size_t)rows + 1 : (size_t)rows;
    PyObject *vals = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(width * nvals));
    PyObject *data = c->kind == K_STR ? PyBytes_FromStringAndSize(c->data.p ? c->data.p : "", (Py_ssize_t)c->data.len)
                                      : PyBytes_FromStringAndSize("", 0);
    if (!valid || !vals || !data) {
        Py_XDECREF(valid);
        Py_XDECREF(vals);
        Py_XDECREF(data);
        return NULL;
    }
    unsigned char *bits = (unsigned char *)PyBytes_AS_STRING(valid);
    char *out = PyBytes_AS_STRING(vals);
    memset(bits, 0, (size_t)((rows + 7) / 8));
    const int64_t *erows = (const int64_t *)c->rows.p;
    if (c->kind == K_STR) {
        int32_t *off = (int32_t *)out;
        const int32_t *ends = (const int32_t *)c->ends.p;
        int32_t cur = 0;
        int64_t next = 0;
        off[0] = 0;
        for (size_t e = 0; e < c->entries; e++) {
            int64_t r = erows[e];
            for (; next < r; next++) off[next + 1] = cur;
            cur = ends[e];
            off[r + 1] = cur;
            next = r + 1;
            if (c->valid.p[e]) bits[r >> 3] |= (unsigned char)(1u << (r & 7));
        }
        for (; next < rows; next++) off[next + 1] = cur;
    } else {
        memset(out, 0, width * nvals);
        for (size_t e = 0; e < c->entries; e++) {
            int64_t r = erows[e];
            memcpy(out + width * (size_t)r, c->data.p + width * e, width);
            if (c->valid.p[e]) bits[r >> 3] |= (unsigned char)(1u << (r & 7));
        }
    }
    return Py_BuildValue("(s#iNNN)", c->name, (Py_ssize_t)c->name_len, c->kind, valid, vals, data);
}

/* A spilled column as gathered: the rows it set, one validity byte and one end per value. */
static PyObject *sparse_tuple(const Col *c) {
    return Py_BuildValue("(s#y#y#y#y#)", c->name, (Py_ssize_t)c->name_len, c->rows.p ? c->rows.p : "",
                         (Py_ssize_t)c->rows.len, c->valid.p ? c->valid.p : "", (Py_ssize_t)c->valid.len,
                         c->ends.p ? c->ends.p : "", (Py_ssize_t)c->ends.len, c->data.p ? c->data.p : "",
                         (Py_ssize_t)c->data.len);
}

typedef struct {
    const Col *col;
    size_t order;
} Ranked;

/* most set first; ties in the order the names were first seen */
static int by_sets(const void *a, const void *b) {
    const Ranked *x = a, *y = b;
    if (x->col->sets != y->col->sets) return x->col->sets > y->col->sets ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Which columns stay dense: all but the string data fields past the `max_natives` most set. */
static char *dense_flags(Group *g, Py_ssize_t max_natives) {
    char *dense = malloc(g->ncols + 1);
    Ranked *ranked = malloc((g->ncols + 1) * sizeof(Ranked));
    if (!dense || !ranked) {
        free(dense);
        free(ranked);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < g->ncols; i++) {
        const Col *c = g->order[i];
        dense[i] = 1;
        if (c->sets && !c->is_core && c->kind == K_STR) ranked[n++] = (Ranked){c, i};
    }
    if (max_natives > 0 && n > (size_t)max_natives) {
        qsort(ranked, n, sizeof(Ranked), by_sets);
        for (size_t k = (size_t)max_natives; k < n; k++) dense[ranked[k].order] = 0;
    }
    free(ranked);
    return dense;
}

static PyObject *group_tuple(Group *g, Py_ssize_t max_natives) {
    char *dense = dense_flags(g, max_natives);
    if (!dense) return PyErr_NoMemory();
    PyObject *cols = PyList_New(0);
    PyObject *spilled = PyList_New(0);
    if (!cols || !spilled) {
        Py_XDECREF(cols);
        Py_XDECREF(spilled);
        free(dense);
        return NULL;
    }
    for (size_t i = 0; i < g->ncols; i++) {
        if (!g->order[i]->sets) continue; /* only ever set by records handed back */
        PyObject *t = dense[i] ? column_tuple(g->order[i], g->rows) : sparse_tuple(g->order[i]);
        if (!t || PyList_Append(dense[i] ? cols : spilled, t)) {
            Py_XDECREF(t);
            Py_DECREF(cols);
            Py_DECREF(spilled);
            free(dense);
            return NULL;
        }
        Py_DECREF(t);
    }
    free(dense);
    PyObject *channel;
    if (g->channel) channel = PyUnicode_DecodeUTF8(g->channel, (Py_ssize_t)g->channel_len, "strict");
    else channel = Py_NewRef(Py_None);
    if (!channel) {
        Py_DECREF(cols);
        Py_DECREF(spilled);
        return NULL;
    }
    return Py_BuildValue("(Ny#NN)", channel, g->positions.p ? g->positions.p : "", (Py_ssize_t)g->positions.len,
                         cols, spilled);
}

static PyObject *flatten(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *records, *core_names;
    Py_ssize_t max_natives = 0;
    if (!PyArg_ParseTuple(args, "O!O!|n", &PyList_Type, &records, &PyTuple_Type, &core_names, &max_natives))
        return NULL;
    CoreSet cs = {0};
    Py_ssize_t ncore = PyTuple_GET_SIZE(core_names);
    cs.names = calloc((size_t)ncore + 1, sizeof(char *));
    cs.lens = calloc((size_t)ncore + 1, sizeof(size_t));
    if (!cs.names || !cs.lens) {
        free(cs.names);
        free(cs.lens);
        return PyErr_NoMemory();
    }
    /* the names' UTF-8 is read without the GIL below: the tuple (immutable) is held until the end */
    Py_INCREF(core_names);
    for (Py_ssize_t i = 0; i < ncore; i++) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(core_names, i), &n);
        if (!s) {
            free(cs.names);
            free(cs.lens);
            Py_DECREF(core_names);
            return NULL;
        }
        cs.names[i] = s;
        cs.lens[i] = (size_t)n;
    }
    cs.n = (size_t)ncore;
    State st = {0};
    st.core = &cs;
    PyObject *fallback = PyList_New(0);
    PyObject *result = NULL, *groups = NULL;
    if (!fallback) goto done;
    Py_ssize_t n = PyList_GET_SIZE(records);
    /* the records' UTF-8 first (needs the GIL), then the parsing without it: other threads
     * go on reading EVTX, writing Parquet and hashing meanwhile */
    const char **jsons = calloc((size_t)n + 1, sizeof(char *));
    size_t *lens = calloc((size_t)n + 1, sizeof(size_t));
    char *codes = calloc((size_t)n + 1, 1);
    /* a strong reference to every string whose UTF-8 is read without the GIL: another thread
     * may replace a record's "data" (or the record in the list) meanwhile, which would free
     * a borrowed string and its UTF-8 buffer under us */
    PyObject **held = calloc((size_t)n + 1, sizeof(PyObject *));
    if (!jsons || !lens || !codes || !held) {
        free(jsons), free(lens), free(codes), free(held);
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *rec = PyList_GET_ITEM(records, i);
        PyObject *data = PyDict_Check(rec) ? PyDict_GetItemString(rec, "data") : NULL;
        if (data && PyUnicode_Check(data)) {
            Py_ssize_t len = 0;
            jsons[i] = PyUnicode_AsUTF8AndSize(data, &len);
            lens[i] = (size_t)len;
            if (!jsons[i]) PyErr_Clear(); /* e.g. surrogates: the Python path reports it */
            else held[i] = Py_NewRef(data);
        }
    }
    int nomem = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !nomem; i++) {
        int rc = jsons[i] ? record(&st, jsons[i], lens[i], (int64_t)i) : BAIL;
        codes[i] = (char)rc;
        nomem = rc == NOMEM;
    }
    Py_END_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(held[i]);
    free(held);
    free(jsons);
    free(lens);
    if (nomem) {
        free(codes);
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!codes[i]) continue;
        PyObject *idx = PyLong_FromSsize_t(i);
        if (!idx || PyList_Append(fallback, idx)) {
            Py_XDECREF(idx);
            free(codes);
            goto done;
        }
        Py_DECREF(idx);
    }
    free(codes);
    groups = PyList_New(0);
    if (!groups) goto done;
    for (size_t i = 0; i < st.ngroups; i++) {
        if (!st.groups[i].rows) continue;
        PyObject *t = group_tuple(&st.groups[i], max_natives);
        if (!t || PyList_Append(groups, t)) {
            Py_XDECREF(t);
            goto done;
        }
        Py_DECREF(t);
    }
    result = PyTuple_Pack(2, groups, fallback);
done:
    Py_XDECREF(groups);
    Py_XDECREF(fallback);
    for (size_t i = 0; i < st.ngroups; i++) group_free(&st.groups[i]);
    free(st.groups);
    buf_free(&st.tmp);
    free(cs.names);
    free(cs.lens);
    Py_DECREF(core_names);
    return result;
}

static PyMethodDef METHODS[] = {
    {"flatten", flatten, METH_VARARGS, "evtx records_json() dicts -> Arrow buffers per channel, and the positions left to Python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "_evtxflat", NULL, -1, METHODS, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__evtxflat(void) { return PyModule_Create(&MODULE); }
