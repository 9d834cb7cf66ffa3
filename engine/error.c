/*
 * error.c — the error table's strings and exit codes, generated from
 * CAIRN_ERR_MAP in cairn.h so they can never drift apart.
 */
#include <cairn/cairn.h>

const char *cairn_strerror(int err) {
  switch (err) {
  case CAIRN_OK:
    return "success";
#define CAIRN__ERR_STR(name, num, exit, msg) \
  case CAIRN_##name:                         \
    return msg;
    CAIRN_ERR_MAP(CAIRN__ERR_STR)
#undef CAIRN__ERR_STR
  default:
    return "unknown error";
  }
}

const char *cairn_err_name(int err) {
  switch (err) {
  case CAIRN_OK:
    return "CAIRN_OK";
#define CAIRN__ERR_NAME(name, num, exit, msg) \
  case CAIRN_##name:                          \
    return "CAIRN_" #name;
    CAIRN_ERR_MAP(CAIRN__ERR_NAME)
#undef CAIRN__ERR_NAME
  default:
    return "CAIRN_EUNKNOWN";
  }
}

int cairn_err_exit_code(int err) {
  switch (err) {
  case CAIRN_OK:
    return 0;
#define CAIRN__ERR_EXIT(name, num, exit, msg) \
  case CAIRN_##name:                          \
    return exit;
    CAIRN_ERR_MAP(CAIRN__ERR_EXIT)
#undef CAIRN__ERR_EXIT
  default:
    return 1;
  }
}
