/*
 * mallocTrim(): glibc's malloc_trim(0) for Node (N-API, no link-time dependency on node).
 *
 * A burst of messages leaves glibc's per-thread arenas (zeromq's I/O thread, V8's workers)
 * holding megabytes of freed but fragmented memory that free() never gives back; malloc_trim
 * returns every free page to the kernel. Built by build.mjs; on other C libraries it is a no-op.
 */
#include <node_api.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

static napi_value Trim(napi_env env, napi_callback_info info) {
  (void)info;
  int released = 0;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  napi_value r;
  napi_get_boolean(env, released != 0, &r);
  return r;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "mallocTrim", NAPI_AUTO_LENGTH, Trim, NULL, &fn);
  napi_set_named_property(env, exports, "mallocTrim", fn);
  return exports;
}
