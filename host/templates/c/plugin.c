/*
 * {{name}}: a datalogger collector plugin in C.
 *
 * collector.h and collector.c are generated from the datalogger WIT by
 * build.sh (wit-bindgen c). Implement the two exports below; call the host
 * through the datalogger_plugin_* functions declared in collector.h.
 * Everything returned to the host must be malloc'd (collector_string_dup,
 * calloc): the generated code frees it after the call.
 */
#include <stdlib.h>
#include <string.h>

#include "collector.h"

#define NAME "{{name}}"

static void set(collector_string_t *s, const char *text) {
    collector_string_dup(s, text);
}

void exports_datalogger_plugin_sampling_describe(exports_datalogger_plugin_sampling_plugin_info_t *ret) {
    set(&ret->name, NAME);
    set(&ret->version, "0.1.0");
    set(&ret->description, "The " NAME " collector");
    ret->keys.len = 1;
    ret->keys.ptr = calloc(1, sizeof *ret->keys.ptr);
    set(&ret->keys.ptr[0].name, NAME ".hello");
    set(&ret->keys.ptr[0].description, "Always 1.0; field value (float)");
    ret->keys.ptr[0].arg.is_some = false; /* no argument */
    set(&ret->keys.ptr[0].unit, "");
}

bool exports_datalogger_plugin_sampling_sample(collector_string_t *key, collector_string_t *maybe_arg,
                                               exports_datalogger_plugin_sampling_list_point_t *ret,
                                               exports_datalogger_plugin_sampling_sample_error_t *err) {
    (void)maybe_arg; /* NULL when the item has no arg */
    static const char hello[] = NAME ".hello";
    if (key->len != strlen(hello) || memcmp(key->ptr, hello, key->len) != 0) {
        err->tag = DATALOGGER_PLUGIN_TYPES_SAMPLE_ERROR_FAILED;
        set(&err->val.failed, "unknown key");
        return false;
    }

    collector_string_t message;
    collector_string_set(&message, "hello from {{name}}"); /* borrowed: the host copies it */
    datalogger_plugin_host_log(DATALOGGER_PLUGIN_HOST_LEVEL_INFO, &message);

    exports_datalogger_plugin_sampling_point_t *point = calloc(1, sizeof *point);
    set(&point->measurement, NAME);
    point->fields.len = 1;
    point->fields.ptr = calloc(1, sizeof *point->fields.ptr);
    set(&point->fields.ptr[0].name, "value");
    point->fields.ptr[0].value.tag = DATALOGGER_PLUGIN_TYPES_FIELD_VALUE_FLOAT;
    point->fields.ptr[0].value.val.float_ = 1.0;
    point->timestamp_ns.is_some = false; /* the host stamps it with the tick time */
    ret->ptr = point;
    ret->len = 1;
    return true;
}
