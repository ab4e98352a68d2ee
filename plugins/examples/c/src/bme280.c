/*
 * Bosch BME280 / BMP280 logic: calibration, compensation, argument parsing.
 * The compensation is the datasheet's integer code (BME280 datasheet 4.2.3,
 * the same as the BMP280's 64-bit pressure variant), with left shifts of
 * signed values written as multiplications (shifting a negative number left
 * is undefined in C) and a guard against every division by zero.
 */
#include "bme280.h"

static uint16_t u16le(const uint8_t *b) {
    return (uint16_t)(b[0] | (b[1] << 8));
}

static int16_t s16le(const uint8_t *b) {
    return (int16_t)u16le(b);
}

void bme280_decode_calib_tp(const uint8_t *b, bme280_calib *c) {
    c->t1 = u16le(b + 0);
    c->t2 = s16le(b + 2);
    c->t3 = s16le(b + 4);
    c->p1 = u16le(b + 6);
    c->p2 = s16le(b + 8);
    c->p3 = s16le(b + 10);
    c->p4 = s16le(b + 12);
    c->p5 = s16le(b + 14);
    c->p6 = s16le(b + 16);
    c->p7 = s16le(b + 18);
    c->p8 = s16le(b + 20);
    c->p9 = s16le(b + 22);
    /* b[24] is 0xA0, reserved */
    c->h1 = b[25];
}

void bme280_decode_calib_h(const uint8_t *b, bme280_calib *c) {
    c->h2 = s16le(b + 0); /* 0xE1, 0xE2 */
    c->h3 = b[2];         /* 0xE3 */
    /* dig_H4 = 0xE4 (bits 11:4) and 0xE5 bits 3:0; dig_H5 = 0xE5 bits 7:4
     * and 0xE6 (bits 11:4). Both are signed 12-bit numbers: the sign comes
     * from the whole byte, as in Bosch's own driver. */
    c->h4 = (int16_t)((int8_t)b[3] * 16 + (b[4] & 0x0F));
    c->h5 = (int16_t)((int8_t)b[5] * 16 + (b[4] >> 4));
    c->h6 = (int8_t)b[6]; /* 0xE7 */
}

int bme280_calib_plausible(const bme280_calib *c) {
    /* dig_T1 and dig_P1 are large positive numbers on every chip; a bus that
     * reads all zeros or all ones gives 0 or 0xFFFF with dig_T2 = 0 / -1. */
    if (c->t1 == 0 || c->p1 == 0) return 0;
    if (c->t1 == 0xFFFF && c->t2 == -1 && c->p1 == 0xFFFF) return 0;
    return 1;
}

void bme280_raw(const uint8_t *d, int has_humidity, int32_t *adc_p, int32_t *adc_t, int32_t *adc_h) {
    *adc_p = (int32_t)(((uint32_t)d[0] << 12) | ((uint32_t)d[1] << 4) | (d[2] >> 4));
    *adc_t = (int32_t)(((uint32_t)d[3] << 12) | ((uint32_t)d[4] << 4) | (d[5] >> 4));
    *adc_h = has_humidity ? (int32_t)(((uint32_t)d[6] << 8) | d[7]) : BME280_SKIPPED_16;
}

int32_t bme280_t_fine(const bme280_calib *c, int32_t adc_t) {
    int32_t var1 = (((adc_t >> 3) - ((int32_t)c->t1 * 2)) * (int32_t)c->t2) >> 11;
    int32_t d = (adc_t >> 4) - (int32_t)c->t1;
    int32_t var2 = (((d * d) >> 12) * (int32_t)c->t3) >> 14;
    return var1 + var2;
}

int32_t bme280_temperature(int32_t t_fine) {
    return (t_fine * 5 + 128) >> 8;
}

uint32_t bme280_pressure(const bme280_calib *c, int32_t adc_p, int32_t t_fine) {
    int64_t var1 = (int64_t)t_fine - 128000;
    int64_t var2 = var1 * var1 * (int64_t)c->p6;
    var2 = var2 + var1 * (int64_t)c->p5 * 131072;     /* << 17 */
    var2 = var2 + (int64_t)c->p4 * 34359738368LL;      /* << 35 */
    var1 = ((var1 * var1 * (int64_t)c->p3) >> 8) + var1 * (int64_t)c->p2 * 4096; /* << 12 */
    var1 = ((((int64_t)1) << 47) + var1) * (int64_t)c->p1 >> 33;
    if (var1 <= 0) {
        return 0; /* dig_P1 = 0: no usable calibration (and no division by zero) */
    }
    int64_t p = 1048576 - adc_p;
    p = ((p * 2147483648LL - var2) * 3125) / var1; /* p << 31 */
    var1 = ((int64_t)c->p9 * (p >> 13) * (p >> 13)) >> 25;
    var2 = ((int64_t)c->p8 * p) >> 19;
    p = ((p + var1 + var2) >> 8) + (int64_t)c->p7 * 16; /* << 4 */
    return (uint32_t)p;
}

uint32_t bme280_humidity(const bme280_calib *c, int32_t adc_h, int32_t t_fine) {
    int32_t v = t_fine - 76800;
    v = ((((adc_h * 16384) - ((int32_t)c->h4 * 1048576) - ((int32_t)c->h5 * v)) + 16384) >> 15) *
        (((((((v * (int32_t)c->h6) >> 10) * (((v * (int32_t)c->h3) >> 11) + 32768)) >> 10) + 2097152) *
              (int32_t)c->h2 +
          8192) >>
         14);
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * (int32_t)c->h1) >> 4);
    if (v < 0) v = 0;
    if (v > 419430400) v = 419430400;
    return (uint32_t)(v >> 12);
}

/* ------------------------------------------------------------------ strings */

void sb_init(strbuf *s, char *buf, size_t size) {
    s->buf = buf;
    s->size = size;
    s->len = 0;
    if (size > 0) buf[0] = '\0';
}

void sb_mem(strbuf *s, const char *text, size_t len) {
    for (size_t i = 0; i < len && s->len + 1 < s->size; i++) {
        s->buf[s->len++] = text[i];
    }
    if (s->size > 0) s->buf[s->len] = '\0';
}

void sb_str(strbuf *s, const char *text) {
    size_t len = 0;
    while (text[len]) len++;
    sb_mem(s, text, len);
}

void sb_uint(strbuf *s, uint64_t value) {
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    while (n > 0) sb_mem(s, &digits[--n], 1);
}

void sb_hex8(strbuf *s, uint8_t value) {
    static const char hex[] = "0123456789abcdef";
    char text[4] = {'0', 'x', hex[value >> 4], hex[value & 0x0F]};
    sb_mem(s, text, 4);
}

/* ------------------------------------------------------------------ argument */

static int is_space(char ch) {
    return ch == ' ' || ch == '\t';
}

/* Parses a decimal or 0x-hex number of at most max in text[0..len). */
static int parse_number(const char *text, size_t len, unsigned max, unsigned *out) {
    unsigned base = 10, value = 0;
    size_t i = 0;
    if (len > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i == len) return 0;
    for (; i < len; i++) {
        char ch = text[i];
        unsigned digit;
        if (ch >= '0' && ch <= '9') {
            digit = (unsigned)(ch - '0');
        } else if (base == 16 && ch >= 'a' && ch <= 'f') {
            digit = (unsigned)(ch - 'a' + 10);
        } else if (base == 16 && ch >= 'A' && ch <= 'F') {
            digit = (unsigned)(ch - 'A' + 10);
        } else {
            return 0;
        }
        value = value * base + digit;
        if (value > max) return 0;
    }
    *out = value;
    return 1;
}

static const char USAGE[] = "expected \"bus=N,addr=0x76\" or \"addr=0x77\" (bus 0..255, default 1; "
                            "address 0x76 or 0x77, default 0x76), or no argument";

static int arg_error(char *err, size_t err_size, const char *what, const char *text, size_t len) {
    strbuf s;
    sb_init(&s, err, err_size);
    sb_str(&s, what);
    sb_str(&s, " \"");
    sb_mem(&s, text, len);
    sb_str(&s, "\": ");
    sb_str(&s, USAGE);
    return -1;
}

int bme280_parse_arg(const char *arg, size_t len, uint8_t *bus, uint8_t *address, char *err, size_t err_size) {
    *bus = 1;
    *address = 0x76;
    int seen_bus = 0, seen_addr = 0;
    size_t start = 0;
    /* An empty or blank argument means the defaults. */
    size_t blank = 0;
    while (blank < len && is_space(arg[blank])) blank++;
    if (blank == len) return 0;
    while (start <= len) {
        size_t end = start;
        while (end < len && arg[end] != ',') end++;
        size_t a = start, b = end;
        while (a < b && is_space(arg[a])) a++;
        while (b > a && is_space(arg[b - 1])) b--;
        size_t eq = a;
        while (eq < b && arg[eq] != '=') eq++;
        if (eq == b) return arg_error(err, err_size, "bad part", arg + a, b - a);
        size_t ke = eq, vs = eq + 1;
        while (ke > a && is_space(arg[ke - 1])) ke--;
        while (vs < b && is_space(arg[vs])) vs++;
        const char *key = arg + a, *value = arg + vs;
        size_t key_len = ke - a, value_len = b - vs;
        unsigned n;
        if (key_len == 3 && key[0] == 'b' && key[1] == 'u' && key[2] == 's') {
            if (seen_bus++ || !parse_number(value, value_len, 255, &n)) {
                return arg_error(err, err_size, "bad bus", arg + a, b - a);
            }
            *bus = (uint8_t)n;
        } else if (key_len == 4 && key[0] == 'a' && key[1] == 'd' && key[2] == 'd' && key[3] == 'r') {
            if (seen_addr++ || !parse_number(value, value_len, 255, &n) || (n != 0x76 && n != 0x77)) {
                return arg_error(err, err_size, "bad address", arg + a, b - a);
            }
            *address = (uint8_t)n;
        } else {
            return arg_error(err, err_size, "unknown setting", arg + a, b - a);
        }
        start = end + 1;
    }
    return 0;
}
