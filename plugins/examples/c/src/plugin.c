/*
 * The bme280 collector: a Bosch BME280 (or BMP280) on I2C, written in C.
 *
 * collector.h / collector.c are generated from wit/datalogger.wit by
 * `wit-bindgen c --world collector` at build time. This file implements the
 * two exports (describe, sample) and calls the host's imports (i2c, host.log,
 * host.now-ns). It uses no libc I/O, so the core module imports nothing but
 * the host's interfaces and becomes a component without a WASI adapter.
 *
 * Memory: everything returned to the host (strings, lists) must come from
 * malloc: the generated post-return code frees it. Lists the host hands us
 * (register bytes, error texts) are ours to free. Every call runs in a fresh
 * instance, so nothing here survives between calls.
 */
#include <stdlib.h>
#include <string.h>

#include "bme280.h"
#include "collector.h"

#define PLUGIN_NAME "bme280"
#define PLUGIN_VERSION "0.1.0"

/* How long to wait for a forced measurement (datasheet max 46.1 ms) before
 * giving up, how often to read the status meanwhile, and bounds on the loops
 * in case the host's clock does not move. */
#define WAIT_NS (500LL * 1000 * 1000)
#define POLL_NS (1000LL * 1000)
#define MAX_POLLS 1000
#define MAX_SPINS 100000

typedef datalogger_plugin_types_cap_error_t cap_error;
typedef exports_datalogger_plugin_sampling_sample_error_t sample_error;
typedef exports_datalogger_plugin_sampling_point_t point;
typedef datalogger_plugin_types_field_t field;

enum key { KEY_TEMPERATURE, KEY_PRESSURE, KEY_HUMIDITY, KEY_ENVIRONMENT, KEY_COUNT };

static const struct {
    const char *name, *unit, *description;
} KEYS[KEY_COUNT] = {
    [KEY_TEMPERATURE] = {"bme280.temperature", "°C", "Air temperature in °C; field temperature (float)"},
    [KEY_PRESSURE] = {"bme280.pressure", "hPa", "Air pressure in hPa (= millibar); field pressure (float)"},
    [KEY_HUMIDITY] = {"bme280.humidity", "%RH",
                      "Relative humidity in %; field humidity (float). BME280 only: a BMP280 has no "
                      "humidity sensor"},
    [KEY_ENVIRONMENT] = {"bme280.environment", "°C",
                         "All readings of one measurement: fields temperature (°C), pressure (hPa) and, "
                         "on a BME280, humidity (%RH)"},
};

static const char ARG_HELP[] = "\"bus=N,addr=0x76|0x77\": I2C bus (default 1) and address "
                               "(default 0x76; 0x77 when SDO is high)";

/* ------------------------------------------------------------------ helpers */

static void set_string(collector_string_t *ret, const char *text) {
    collector_string_dup(ret, text); /* a malloc'd copy: the host side frees it */
}

/* A sample-error of kind `tag` with message `text`. Returns false, so that
 * `return fail(...)` ends `sample` with an error. */
static bool fail(sample_error *err, uint8_t tag, const char *text) {
    err->tag = tag;
    set_string(&err->val.failed, text); /* every variant case is a string */
    return false;
}

/* Maps the host's cap-error to a sample-error, keeping the host's text. A
 * refused grant is `unavailable`: the operator has to change the config. */
static bool fail_cap(sample_error *err, cap_error *e) {
    uint8_t tag;
    switch (e->tag) {
    case DATALOGGER_PLUGIN_TYPES_CAP_ERROR_NOT_GRANTED:
    case DATALOGGER_PLUGIN_TYPES_CAP_ERROR_UNAVAILABLE:
        tag = DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_UNAVAILABLE;
        break;
    case DATALOGGER_PLUGIN_TYPES_CAP_ERROR_TIMEOUT:
        tag = DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_TIMEOUT;
        break;
    default:
        tag = DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_FAILED;
        break;
    }
    err->tag = tag;
    /* Every cap-error case is a string: hand the host's text back as it is. */
    err->val.failed = e->val.not_granted;
    return false;
}

/* Busy-waits about `ns` nanoseconds on the host's clock. */
static void spin(int64_t ns) {
    int64_t until = datalogger_plugin_host_now_ns() + ns;
    for (long i = 0; i < MAX_SPINS && datalogger_plugin_host_now_ns() < until; i++) {
    }
}

static void log_debug(const char *text) {
    collector_string_t message;
    collector_string_set(&message, text);
    datalogger_plugin_host_log(DATALOGGER_PLUGIN_HOST_LEVEL_DEBUG, &message);
}

/* The device: bus, address, and a name for messages ("BME280 at 0x76 on I2C bus 1"). */
typedef struct {
    uint8_t bus, address;
    char where[64];
} device;

/* Reads `len` bytes from register `reg` into `out`. */
static bool read_regs(const device *d, uint8_t reg, uint8_t *out, uint32_t len, sample_error *err) {
    collector_list_u8_t bytes;
    cap_error e;
    if (!datalogger_plugin_i2c_read_registers(d->bus, d->address, reg, len, &bytes, &e)) {
        return fail_cap(err, &e);
    }
    if (bytes.len != len) {
        collector_list_u8_free(&bytes);
        char text[160];
        strbuf s;
        sb_init(&s, text, sizeof text);
        sb_str(&s, d->where);
        sb_str(&s, ": the bus returned a short read");
        return fail(err, DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_FAILED, text);
    }
    memcpy(out, bytes.ptr, len);
    collector_list_u8_free(&bytes);
    return true;
}

/* Writes (register, value) pairs in one transaction: the BME280's own
 * multi-register write. `pairs` starts with the first register address. */
static bool write_pairs(const device *d, const uint8_t *pairs, size_t len, sample_error *err) {
    collector_list_u8_t data = {(uint8_t *)pairs + 1, len - 1};
    cap_error e;
    if (!datalogger_plugin_i2c_write_registers(d->bus, d->address, pairs[0], &data, &e)) {
        return fail_cap(err, &e);
    }
    return true;
}

static void add_float(field *f, const char *name, double value) {
    set_string(&f->name, name);
    f->value.tag = DATALOGGER_PLUGIN_TYPES_FIELD_VALUE_FLOAT;
    f->value.val.float_ = value;
}

/* ------------------------------------------------------------------ exports */

void exports_datalogger_plugin_sampling_describe(exports_datalogger_plugin_sampling_plugin_info_t *ret) {
    set_string(&ret->name, PLUGIN_NAME);
    set_string(&ret->version, PLUGIN_VERSION);
    set_string(&ret->description, "Bosch BME280 temperature, pressure and humidity sensor (or a BMP280: "
                                  "temperature and pressure) on I2C, in forced mode; written in C");
    ret->keys.len = KEY_COUNT;
    ret->keys.ptr = calloc(KEY_COUNT, sizeof *ret->keys.ptr);
    for (size_t i = 0; i < KEY_COUNT; i++) {
        datalogger_plugin_types_key_info_t *k = &ret->keys.ptr[i];
        set_string(&k->name, KEYS[i].name);
        set_string(&k->description, KEYS[i].description);
        set_string(&k->unit, KEYS[i].unit);
        k->arg.is_some = true;
        set_string(&k->arg.val.description, ARG_HELP);
        k->arg.val.required = false;
    }
}

bool exports_datalogger_plugin_sampling_sample(collector_string_t *key, collector_string_t *maybe_arg,
                                               exports_datalogger_plugin_sampling_list_point_t *ret,
                                               sample_error *err) {
    char text[512];
    strbuf s;

    /* Which key. */
    int which = -1;
    for (int i = 0; i < KEY_COUNT; i++) {
        if (key->len == strlen(KEYS[i].name) && memcmp(key->ptr, KEYS[i].name, key->len) == 0) which = i;
    }
    if (which < 0) {
        sb_init(&s, text, sizeof text);
        sb_str(&s, "unknown key \"");
        sb_mem(&s, (const char *)key->ptr, key->len);
        sb_str(&s, "\"; this plugin serves bme280.temperature, bme280.pressure, bme280.humidity and "
                   "bme280.environment");
        return fail(err, DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_FAILED, text);
    }

    /* Which device. */
    device d;
    const char *arg = maybe_arg ? (const char *)maybe_arg->ptr : "";
    size_t arg_len = maybe_arg ? maybe_arg->len : 0;
    if (bme280_parse_arg(arg, arg_len, &d.bus, &d.address, text, sizeof text) != 0) {
        return fail(err, DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_BAD_ARGUMENT, text);
    }

    /* Which chip: 0x60 BME280, 0x58 BMP280 (no humidity). */
    uint8_t id;
    strbuf w;
    sb_init(&w, d.where, sizeof d.where);
    sb_str(&w, "chip at ");
    sb_hex8(&w, d.address);
    sb_str(&w, " on I2C bus ");
    sb_uint(&w, d.bus);
    if (!read_regs(&d, BME280_REG_CHIP_ID, &id, 1, err)) return false;
    int has_humidity = id == BME280_CHIP_ID;
    if (id != BME280_CHIP_ID && id != BMP280_CHIP_ID) {
        sb_init(&s, text, sizeof text);
        sb_str(&s, d.where);
        sb_str(&s, ": chip id (register 0xd0) is ");
        sb_hex8(&s, id);
        sb_str(&s, ", expected 0x60 (BME280) or 0x58 (BMP280); another device answers at this address "
                   "(check the bus and the addr= setting)");
        return fail(err, DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_UNAVAILABLE, text);
    }
    sb_init(&w, d.where, sizeof d.where);
    sb_str(&w, has_humidity ? "BME280 at " : "BMP280 at ");
    sb_hex8(&w, d.address);
    sb_str(&w, " on I2C bus ");
    sb_uint(&w, d.bus);
    if (which == KEY_HUMIDITY && !has_humidity) {
        sb_init(&s, text, sizeof text);
        sb_str(&s, d.where);
        sb_str(&s, ": a BMP280 (chip id 0x58) has no humidity sensor; use bme280.temperature or "
                   "bme280.pressure, or fit a BME280");
        return fail(err, DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_UNAVAILABLE, text);
    }

    /* Calibration, read on every call (nothing survives between calls). */
    uint8_t calib[BME280_CALIB00_LEN + BME280_CALIB26_LEN];
    bme280_calib cal;
    memset(&cal, 0, sizeof cal);
    if (!read_regs(&d, BME280_REG_CALIB00, calib, BME280_CALIB00_LEN, err)) return false;
    bme280_decode_calib_tp(calib, &cal);
    if (has_humidity) {
        if (!read_regs(&d, BME280_REG_CALIB26, calib + BME280_CALIB00_LEN, BME280_CALIB26_LEN, err)) return false;
        bme280_decode_calib_h(calib + BME280_CALIB00_LEN, &cal);
    }
    if (!bme280_calib_plausible(&cal)) {
        sb_init(&s, text, sizeof text);
        sb_str(&s, d.where);
        sb_str(&s, ": the calibration registers read as blank (dig_T1 = ");
        sb_uint(&s, cal.t1);
        sb_str(&s, ", dig_P1 = ");
        sb_uint(&s, cal.p1);
        sb_str(&s, "); the chip may be starting up or faulty");
        return fail(err, DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_UNAVAILABLE, text);
    }

    /* One forced measurement: ctrl_hum first (it takes effect with the write
     * of ctrl_meas), config, then ctrl_meas, as (register, value) pairs in
     * one write. A BMP280 ignores the write to 0xF2. */
    const uint8_t setup[] = {
        BME280_REG_CTRL_HUM, BME280_CTRL_HUM_VALUE, BME280_REG_CONFIG,    BME280_CONFIG_VALUE,
        BME280_REG_CTRL_MEAS, BME280_CTRL_MEAS_VALUE,
    };
    if (!write_pairs(&d, setup, sizeof setup, err)) return false;

    /* Wait until the chip is back in sleep mode with `measuring` clear; both
     * registers come in one read (status 0xF3, ctrl_meas 0xF4). Plain wasm has
     * no sleep: between two reads, spin on the host's clock for POLL_NS, so
     * that the bus is not kept busy; bounded by the clock and by counts. */
    int64_t deadline = datalogger_plugin_host_now_ns() + WAIT_NS;
    int done = 0;
    long polls = 0;
    while (polls++ < MAX_POLLS) {
        uint8_t state[2];
        if (!read_regs(&d, BME280_REG_STATUS, state, 2, err)) return false;
        if (!(state[0] & BME280_STATUS_MEASURING) && (state[1] & 0x03) == 0) {
            done = 1;
            break;
        }
        if (datalogger_plugin_host_now_ns() > deadline) break;
        spin(POLL_NS);
    }
    if (!done) {
        sb_init(&s, text, sizeof text);
        sb_str(&s, d.where);
        sb_str(&s, ": the forced measurement did not finish within 500 ms (it takes at most 46 ms); "
                   "is another program driving the chip?");
        return fail(err, DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_TIMEOUT, text);
    }

    /* The data, in one burst read (the chip keeps it consistent). */
    uint8_t data[8];
    if (!read_regs(&d, BME280_REG_DATA, data, has_humidity ? 8 : 6, err)) return false;
    int32_t adc_p, adc_t, adc_h;
    bme280_raw(data, has_humidity, &adc_p, &adc_t, &adc_h);

    sb_init(&s, text, sizeof text);
    sb_str(&s, d.where);
    sb_str(&s, ": adc_T ");
    sb_uint(&s, (uint32_t)adc_t);
    sb_str(&s, ", adc_P ");
    sb_uint(&s, (uint32_t)adc_p);
    sb_str(&s, ", adc_H ");
    sb_uint(&s, (uint32_t)adc_h);
    sb_str(&s, " (measured in forced mode; status read ");
    sb_uint(&s, (uint64_t)polls);
    sb_str(&s, " times)");
    log_debug(text);

    int need_p = which == KEY_PRESSURE || which == KEY_ENVIRONMENT;
    int need_h = which == KEY_HUMIDITY || (which == KEY_ENVIRONMENT && has_humidity);
    const char *skipped = NULL;
    if (adc_t == BME280_SKIPPED_20) skipped = "temperature";
    else if (need_p && adc_p == BME280_SKIPPED_20) skipped = "pressure";
    else if (need_h && adc_h == BME280_SKIPPED_16) skipped = "humidity";
    if (skipped) {
        sb_init(&s, text, sizeof text);
        sb_str(&s, d.where);
        sb_str(&s, ": no ");
        sb_str(&s, skipped);
        sb_str(&s, " measurement (the data register holds the 'skipped' value 0x80000/0x8000); "
                   "is another program reconfiguring the chip?");
        return fail(err, DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_UNAVAILABLE, text);
    }

    /* The datasheet's integer compensation. */
    int32_t t_fine = bme280_t_fine(&cal, adc_t);
    double temperature = bme280_temperature(t_fine) / 100.0;
    uint32_t p_q24_8 = bme280_pressure(&cal, adc_p, t_fine);
    double pressure = p_q24_8 / 256.0 / 100.0;
    double humidity = bme280_humidity(&cal, adc_h, t_fine) / 1024.0;
    if (need_p && p_q24_8 == 0) {
        sb_init(&s, text, sizeof text);
        sb_str(&s, d.where);
        sb_str(&s, ": the pressure calibration is unusable (dig_P1 = 0)");
        return fail(err, DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_FAILED, text);
    }

    /* One point, no tags, stamped by the host with the tick time. */
    point *pt = calloc(1, sizeof *pt);
    set_string(&pt->measurement, PLUGIN_NAME);
    pt->tags.ptr = NULL;
    pt->tags.len = 0;
    pt->timestamp_ns.is_some = false;
    field *f = calloc(3, sizeof *f);
    size_t n = 0;
    switch (which) {
    case KEY_TEMPERATURE:
        add_float(&f[n++], "temperature", temperature);
        break;
    case KEY_PRESSURE:
        add_float(&f[n++], "pressure", pressure);
        break;
    case KEY_HUMIDITY:
        add_float(&f[n++], "humidity", humidity);
        break;
    default:
        add_float(&f[n++], "temperature", temperature);
        add_float(&f[n++], "pressure", pressure);
        if (has_humidity) add_float(&f[n++], "humidity", humidity);
        break;
    }
    pt->fields.ptr = f;
    pt->fields.len = n;
    ret->ptr = pt;
    ret->len = 1;
    return true;
}
