/* Self-contained CO-RE test programs: no vmlinux.h, no libbpf headers. */
#define SEC(name) __attribute__((section(name), used))
#define __core __attribute__((preserve_access_index))

/* __builtin_preserve_field_info kinds */
#define FIELD_BYTE_OFFSET 0
#define FIELD_BYTE_SIZE 1
#define FIELD_EXISTS 2
#define FIELD_SIGNED 3
#define FIELD_LSHIFT_U64 4
#define FIELD_RSHIFT_U64 5
/* __builtin_btf_type_id kinds */
#define TYPE_ID_LOCAL 0
#define TYPE_ID_TARGET 1
/* __builtin_preserve_type_info kinds */
#define TYPE_EXISTS 0
#define TYPE_SIZE 1
#define TYPE_MATCHES 2
/* __builtin_preserve_enum_value kinds */
#define ENUMVAL_EXISTS 0
#define ENUMVAL_VALUE 1

#define ENUM_VALUE(type, name, kind) \
    __builtin_preserve_enum_value(*(typeof(type) *)name, kind)

/* Keep each relocated value alive: write it to a volatile sink. */
#define KEEP(expr) do { *sink = (unsigned long)(expr); } while (0)

char LICENSE[] SEC("license") = "GPL";
