/*
 * Native unit tests of src/bme280.c (build.sh runs them before building the
 * component): calibration decoding, the worked example, argument parsing.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../src/bme280.h"

static int failures = 0, passed = 0;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            passed++;                                                                                                  \
        } else {                                                                                                       \
            failures++;                                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);                                  \
        }                                                                                                              \
    } while (0)

/* The BMP280 datasheet's worked example (section 3.12), little-endian words. */
static const uint8_t EXAMPLE_TP[26] = {
    0x70, 0x6B, /* dig_T1 27504 */ 0x43, 0x67, /* dig_T2 26435 */ 0x18, 0xFC, /* dig_T3 -1000 */
    0x7D, 0x8E, /* dig_P1 36477 */ 0x43, 0xD6, /* dig_P2 -10685 */ 0xD0, 0x0B, /* dig_P3 3024 */
    0x27, 0x0B, /* dig_P4 2855 */ 0x8C, 0x00, /* dig_P5 140 */ 0xF9, 0xFF,    /* dig_P6 -7 */
    0x8C, 0x3C, /* dig_P7 15500 */ 0xF8, 0xC6, /* dig_P8 -14600 */ 0x70, 0x17, /* dig_P9 6000 */
    0x00,       /* 0xA0 reserved */ 0x4B,       /* dig_H1 75 */
};

static void test_worked_example(void) {
    bme280_calib c;
    memset(&c, 0, sizeof c);
    bme280_decode_calib_tp(EXAMPLE_TP, &c);
    CHECK(c.t1 == 27504 && c.t2 == 26435 && c.t3 == -1000);
    CHECK(c.p1 == 36477 && c.p2 == -10685 && c.p3 == 3024 && c.p4 == 2855 && c.p5 == 140);
    CHECK(c.p6 == -7 && c.p7 == 15500 && c.p8 == -14600 && c.p9 == 6000 && c.h1 == 75);
    CHECK(bme280_calib_plausible(&c));
    int32_t t_fine = bme280_t_fine(&c, 519888);
    CHECK(t_fine == 128422);
    CHECK(bme280_temperature(t_fine) == 2508); /* 25.08 °C */
    /* 100653.254 Pa; the datasheet's 100653.27 comes from its floating-point formula. */
    CHECK(bme280_pressure(&c, 415148, t_fine) == 25767233);
    CHECK(fabs(bme280_pressure(&c, 415148, t_fine) / 25600.0 - 1006.5327) < 2e-4);
}

/* A real BME280's calibration and reading, posted on Bosch's forum: 24.44 °C, 54.17 %RH. */
static void test_real_device_humidity(void) {
    static const uint8_t tp[26] = {0x6C, 0x6E, 0x77, 0x66, 0x32, 0x00, 0xA8, 0x92, 0x27, 0xD5, 0xD0, 0x0B, 0x6F,
                                   0x18, 0xCA, 0xFF, 0xF9, 0xFF, 0xAC, 0x26, 0x0A, 0xD8, 0xBD, 0x10, 0x00, 0x4B};
    static const uint8_t h[7] = {0x65, 0x01, 0x00, 0x14, 0x0B, 0x00, 0x1E};
    static const uint8_t data[8] = {0x55, 0x33, 0x80, 0x81, 0x7F, 0xB0, 0x79, 0x13};
    bme280_calib c;
    bme280_decode_calib_tp(tp, &c);
    bme280_decode_calib_h(h, &c);
    CHECK(c.h1 == 75 && c.h2 == 357 && c.h3 == 0 && c.h4 == 331 && c.h5 == 0 && c.h6 == 30);
    int32_t p, t, hum;
    bme280_raw(data, 1, &p, &t, &hum);
    CHECK(p == 0x55338 && t == 0x817FB && hum == 0x7913);
    int32_t t_fine = bme280_t_fine(&c, t);
    CHECK(bme280_temperature(t_fine) == 2444);
    CHECK(fabs(bme280_humidity(&c, hum, t_fine) / 1024.0 - 54.17) < 0.01);
    bme280_raw(data, 0, &p, &t, &hum);
    CHECK(hum == BME280_SKIPPED_16);
}

static void test_signed_h4_h5(void) {
    /* H4 = -300 (0xED4), H5 = -50 (0xFCE): 0xE4 = 0xED, 0xE5 = 0xE4, 0xE6 = 0xFC. */
    static const uint8_t h[7] = {0x6A, 0x01, 0x10, 0xED, 0xE4, 0xFC, 0xE2};
    bme280_calib c;
    bme280_decode_calib_h(h, &c);
    CHECK(c.h2 == 362 && c.h3 == 16 && c.h4 == -300 && c.h5 == -50 && c.h6 == -30);
}

static void test_blank_calibration(void) {
    uint8_t b[26];
    bme280_calib c;
    memset(b, 0x00, sizeof b);
    bme280_decode_calib_tp(b, &c);
    CHECK(!bme280_calib_plausible(&c));
    CHECK(bme280_pressure(&c, 415148, 128422) == 0); /* no division by zero */
    memset(b, 0xFF, sizeof b);
    bme280_decode_calib_tp(b, &c);
    CHECK(!bme280_calib_plausible(&c));
}

static int arg_ok(const char *arg, unsigned bus, unsigned address) {
    uint8_t b = 0, a = 0;
    char err[256];
    return bme280_parse_arg(arg, strlen(arg), &b, &a, err, sizeof err) == 0 && b == bus && a == address;
}

static int arg_bad(const char *arg) {
    uint8_t b, a;
    char err[256];
    return bme280_parse_arg(arg, strlen(arg), &b, &a, err, sizeof err) != 0 && strstr(err, "bus=N") != NULL;
}

static void test_arguments(void) {
    CHECK(arg_ok("", 1, 0x76));
    CHECK(arg_ok("  ", 1, 0x76));
    CHECK(arg_ok("bus=3", 3, 0x76));
    CHECK(arg_ok("addr=0x77", 1, 0x77));
    CHECK(arg_ok(" bus = 0 , addr=119 ", 0, 0x77));
    CHECK(arg_ok("addr=0X76,bus=255", 255, 0x76));
    const char *bad[] = {"bus",      "bus=",      "bus=256",  "bus=-1",   "addr=0x5c", "addr=0x",
                         "bus=1,",   ",bus=1",    "bus=1,bus=2", "x=1",   "bus=1;addr=0x77", "address=0x76"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!arg_bad(bad[i])) fprintf(stderr, "accepted bad argument \"%s\"\n", bad[i]);
        CHECK(arg_bad(bad[i]));
    }
}

static void test_strbuf(void) {
    char buf[8];
    strbuf s;
    sb_init(&s, buf, sizeof buf);
    sb_str(&s, "ab");
    sb_hex8(&s, 0x5c);
    sb_uint(&s, 1234);
    CHECK(strcmp(buf, "ab0x5c1") == 0); /* truncated, NUL-terminated */
    sb_init(&s, buf, sizeof buf);
    sb_uint(&s, 0);
    CHECK(strcmp(buf, "0") == 0);
}

int main(void) {
    test_worked_example();
    test_real_device_humidity();
    test_signed_h4_h5();
    test_blank_calibration();
    test_arguments();
    test_strbuf();
    printf("%d passed, %d failed\n", passed, failures);
    return failures == 0 ? 0 : 1;
}
