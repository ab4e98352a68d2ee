/*
 * Bosch BME280 (and BMP280) logic without any I/O: register map, calibration
 * decoding, the datasheet's integer compensation, the item's argument.
 * Compiles for wasm and natively (test/test_bme280.c).
 */
#ifndef BME280_H
#define BME280_H

#include <stddef.h>
#include <stdint.h>

/* Registers (datasheet section 5.3). Addresses are full 8-bit; reads always
 * auto-increment; a write is (register, value) pairs. */
#define BME280_REG_CALIB00 0x88 /* calib00..25: dig_T1..T3, dig_P1..P9, (0xA0), dig_H1 */
#define BME280_CALIB00_LEN 26
#define BME280_REG_CHIP_ID 0xD0
#define BME280_REG_CALIB26 0xE1 /* calib26..32: dig_H2..H6 */
#define BME280_CALIB26_LEN 7
#define BME280_REG_CTRL_HUM 0xF2
#define BME280_REG_STATUS 0xF3 /* bit 3 measuring, bit 0 im_update */
#define BME280_REG_CTRL_MEAS 0xF4
#define BME280_REG_CONFIG 0xF5
#define BME280_REG_DATA 0xF7 /* press msb/lsb/xlsb, temp msb/lsb/xlsb, hum msb/lsb */

#define BME280_CHIP_ID 0x60
#define BMP280_CHIP_ID 0x58 /* same T/P part, no humidity */

#define BME280_STATUS_MEASURING 0x08
#define BME280_SKIPPED_20 0x80000 /* temperature or pressure not measured */
#define BME280_SKIPPED_16 0x8000  /* humidity not measured */

/* The settings this plugin measures with: forced mode, temperature x2 (17 bit),
 * pressure x16 (20 bit), humidity x1, IIR filter off. At most 46.1 ms. */
#define BME280_CTRL_HUM_VALUE 0x01         /* osrs_h = 001 (x1) */
#define BME280_CONFIG_VALUE 0x00           /* t_sb 0.5 ms, filter off, no 3-wire SPI */
#define BME280_CTRL_MEAS_VALUE 0x55        /* osrs_t 010 (x2), osrs_p 101 (x16), mode 01 (forced) */
#define BME280_MAX_MEASUREMENT_US 46100    /* 1.25 + 2.3*2 + 2.3*16 + 0.575 + 2.3*1 + 0.575 ms */

typedef struct {
    uint16_t t1;
    int16_t t2, t3;
    uint16_t p1;
    int16_t p2, p3, p4, p5, p6, p7, p8, p9;
    uint8_t h1;
    int16_t h2;
    uint8_t h3;
    int16_t h4, h5; /* 12-bit signed, packed around 0xE5 */
    int8_t h6;
} bme280_calib;

/* Decodes calib00..25 (26 bytes from 0x88) into t1..p9 and h1. */
void bme280_decode_calib_tp(const uint8_t *b, bme280_calib *c);
/* Decodes calib26..32 (7 bytes from 0xE1) into h2..h6. */
void bme280_decode_calib_h(const uint8_t *b, bme280_calib *c);
/* Whether the T/P calibration looks like a chip's and not like a bus
 * returning all 0x00 or all 0xFF. */
int bme280_calib_plausible(const bme280_calib *c);

/* Raw ADC values from the data registers (8 bytes from 0xF7; with
 * has_humidity = 0, 6 bytes and *adc_h is set to BME280_SKIPPED_16). */
void bme280_raw(const uint8_t *data, int has_humidity, int32_t *adc_p, int32_t *adc_t, int32_t *adc_h);

/* The datasheet's integer compensation (section 4.2.3). */
int32_t bme280_t_fine(const bme280_calib *c, int32_t adc_t);
/* Temperature in 0.01 °C. */
int32_t bme280_temperature(int32_t t_fine);
/* Pressure in Pa as Q24.8 (Pa * 256); 0 when the calibration is unusable. */
uint32_t bme280_pressure(const bme280_calib *c, int32_t adc_p, int32_t t_fine);
/* Relative humidity in %RH as Q22.10 (%RH * 1024). */
uint32_t bme280_humidity(const bme280_calib *c, int32_t adc_h, int32_t t_fine);

/* The item's argument: "" or "bus=N", "addr=0x76|0x77", comma-separated,
 * in any order. Defaults: bus 1, address 0x76. Returns 0 on success, else
 * writes a message for the operator into err (NUL-terminated). */
int bme280_parse_arg(const char *arg, size_t len, uint8_t *bus, uint8_t *address, char *err, size_t err_size);

/* A small string builder into a fixed buffer (no stdio: the plugin imports
 * nothing but the host's capabilities). Output is truncated, never overrun. */
typedef struct {
    char *buf;
    size_t size, len;
} strbuf;

void sb_init(strbuf *s, char *buf, size_t size);
void sb_str(strbuf *s, const char *text);
void sb_mem(strbuf *s, const char *text, size_t len);
void sb_uint(strbuf *s, uint64_t value);
void sb_hex8(strbuf *s, uint8_t value); /* "0x5c" */

#endif
