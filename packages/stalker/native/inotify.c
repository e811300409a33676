/*
 * In-process inotify for the stalker (N-API, no link-time dependency on node).
 *
 * inotifywait as a child process costs a process hop per event: the kernel wakes inotifywait,
 * which writes to a pipe, which wakes the stalker; on a busy machine each wake-up may wait for a
 * CPU. Here the inotify descriptor is polled by the stalker's own libuv loop (uv_poll), and each
 * read (up to 256 events) is handed to JavaScript as one Buffer of raw `struct inotify_event`
 * records, parsed there. One read per wake-up, so a large burst is interleaved with the loop's
 * other work (timers, ZeroMQ) instead of holding it.
 *
 *   open(callback) -> handle         callback(buffer | null, errno)
 *   addWatch(handle, path, mask) -> wd   (throws an Error with .code = errno name on failure)
 *   rmWatch(handle, wd)
 *   close(handle)
 *
 * Built by scripts/build-native.mjs; when it cannot be built the stalker uses inotifywait.
 */
#include <node_api.h>
#include <uv.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

typedef struct {
  napi_env env;
  int fd;
  int closed;       /* close() called: no more callbacks */
  int poll_closed;  /* libuv has let go of the poll handle */
  int finalized;    /* the JavaScript handle was collected */
  int release_refs; /* drop the callback and async context once libuv has let go */
  uv_poll_t poll;
  napi_ref cb;
  napi_async_context actx;
  /* Room for at least 256 events with long names; per watcher, as worker threads poll their own. */
  char buf[256 * (sizeof(struct inotify_event) + NAME_MAX + 1)] __attribute__((aligned(__alignof__(struct inotify_event))));
} watcher_t;

#define CHECK(call)                                                      \
  do {                                                                   \
    if ((call) != napi_ok) {                                             \
      napi_throw_error(env, NULL, "inotify addon: N-API call failed");   \
      return NULL;                                                       \
    }                                                                    \
  } while (0)

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value m, e, c, n;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  const char *code = err == ENOSPC ? "ENOSPC" : err == ENOENT ? "ENOENT" : err == EACCES ? "EACCES"
                     : err == ENOTDIR ? "ENOTDIR" : err == EMFILE ? "EMFILE" : err == EINVAL ? "EINVAL" : err == EBADF ? "EBADF" : "EIO";
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_set_named_property(env, e, "code", c);
  napi_create_int32(env, err, &n);
  napi_set_named_property(env, e, "errno", n);
  napi_throw(env, e);
  return NULL;
}

static void call_js(watcher_t *w, napi_value arg0, int err) {
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], result;
  if (napi_get_reference_value(env, w->cb, &cb) == napi_ok && cb != NULL) {
    napi_get_global(env, &recv);
    argv[0] = arg0;
    napi_create_int32(env, err, &argv[1]);
    napi_status st = napi_make_callback(env, w->actx, recv, cb, 2, argv, &result);
    if (st == napi_pending_exception) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
      napi_fatal_exception(env, ex);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  watcher_t *w = (watcher_t *)h->data;
  if (w->closed) return;
  napi_env env = w->env;
  if (status < 0) {
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value nul;
    napi_get_null(env, &nul);
    call_js(w, nul, -status);
    napi_close_handle_scope(env, scope);
    return;
  }
  char *buf = w->buf;
  const size_t size = sizeof w->buf;
  /* One read per wake-up: the poll is level-triggered, so a burst larger than the buffer comes
   * back on the next loop iteration, after timers and sockets have had their turn. */
  ssize_t n;
  do {
    n = read(w->fd, buf, size);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    int err = errno;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value nul;
    napi_get_null(env, &nul);
    call_js(w, nul, err);
    napi_close_handle_scope(env, scope);
    return;
  }
  if (n == 0) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value b;
  void *data;
  if (napi_create_buffer_copy(env, (size_t)n, buf, &data, &b) == napi_ok) call_js(w, b, 0);
  napi_close_handle_scope(env, scope);
}

static void on_closed(uv_handle_t *h) {
  watcher_t *w = (watcher_t *)h->data;
  w->poll_closed = 1;
  if (w->release_refs) {
    /* Not in close() itself: that may run inside this watcher's own callback. */
    napi_delete_reference(w->env, w->cb);
    napi_async_destroy(w->env, w->actx);
    w->release_refs = 0;
  }
  if (w->finalized) free(w);
}

/* Stops polling and closes the descriptor; frees the struct once libuv is done with it. */
static void shutdown_watcher(watcher_t *w, int release_refs) {
  if (w->closed) return;
  w->closed = 1;
  uv_poll_stop(&w->poll);
  if (w->fd >= 0) close(w->fd);
  w->fd = -1;
  w->release_refs = release_refs;
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  watcher_t *w = (watcher_t *)data;
  w->finalized = 1;
  if (!w->closed) shutdown_watcher(w, 0); /* refs go with the environment */
  else if (w->poll_closed) free(w);
}

static watcher_t *get_watcher(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "inotify addon: not a watcher handle");
    return NULL;
  }
  return (watcher_t *)data;
}

/* Reads a call's n arguments into argv; the first must be a watcher handle. Throws (and returns
 * NULL) when there are fewer, or the first is not a handle. */
static watcher_t *watcher_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "inotify addon: N-API call failed");
    return NULL;
  }
  if (argc < n) {
    napi_throw_type_error(env, NULL, usage);
    return NULL;
  }
  return get_watcher(env, argv[0]);
}

static napi_value Open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  napi_valuetype t;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "open(callback): callback must be a function");
    return NULL;
  }
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return throw_errno(env, "inotify_init1", errno);
  watcher_t *w = (watcher_t *)calloc(1, sizeof *w);
  if (!w) {
    close(fd);
    return throw_errno(env, "inotify addon", ENOMEM);
  }
  w->env = env;
  w->fd = fd;
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || uv_poll_init(loop, &w->poll, fd) != 0) {
    close(fd);
    free(w);
    napi_throw_error(env, NULL, "inotify addon: cannot poll the inotify descriptor");
    return NULL;
  }
  w->poll.data = w;
  napi_value name, handle;
  CHECK(napi_create_reference(env, argv[0], 1, &w->cb));
  CHECK(napi_create_string_utf8(env, "viirs:inotify", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &w->actx));
  CHECK(napi_create_external(env, w, finalize, NULL, &handle));
  uv_poll_start(&w->poll, UV_READABLE, on_readable);
  return handle;
}

static napi_value AddWatch(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  watcher_t *w = watcher_args(env, info, 3, argv, "addWatch(handle, path, mask)");
  if (!w) return NULL;
  if (w->closed) return throw_errno(env, "inotify_add_watch", EBADF);
  char path[4097];
  size_t len;
  if (napi_get_value_string_utf8(env, argv[1], path, sizeof path, &len) != napi_ok || len >= sizeof path - 1) {
    napi_throw_type_error(env, NULL, "addWatch: path must be a string shorter than 4096 bytes");
    return NULL;
  }
  uint32_t mask;
  if (napi_get_value_uint32(env, argv[2], &mask) != napi_ok) {
    napi_throw_type_error(env, NULL, "addWatch: mask must be a number");
    return NULL;
  }
  int wd = inotify_add_watch(w->fd, path, mask);
  if (wd < 0) return throw_errno(env, path, errno);
  napi_value r;
  CHECK(napi_create_int32(env, wd, &r));
  return r;
}

static napi_value RmWatch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  watcher_t *w = watcher_args(env, info, 2, argv, "rmWatch(handle, wd)");
  if (!w) return NULL;
  int32_t wd;
  if (napi_get_value_int32(env, argv[1], &wd) != napi_ok) {
    napi_throw_type_error(env, NULL, "rmWatch: wd must be a number");
    return NULL;
  }
  napi_value r;
  CHECK(napi_get_boolean(env, !w->closed && inotify_rm_watch(w->fd, wd) == 0, &r));
  return r;
}

static napi_value Close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  watcher_t *w = watcher_args(env, info, 1, argv, "close(handle)");
  if (!w) return NULL;
  shutdown_watcher(w, 1);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value fn, v;
  napi_create_function(env, "open", NAPI_AUTO_LENGTH, Open, NULL, &fn);
  napi_set_named_property(env, exports, "open", fn);
  napi_create_function(env, "addWatch", NAPI_AUTO_LENGTH, AddWatch, NULL, &fn);
  napi_set_named_property(env, exports, "addWatch", fn);
  napi_create_function(env, "rmWatch", NAPI_AUTO_LENGTH, RmWatch, NULL, &fn);
  napi_set_named_property(env, exports, "rmWatch", fn);
  napi_create_function(env, "close", NAPI_AUTO_LENGTH, Close, NULL, &fn);
  napi_set_named_property(env, exports, "close", fn);
#define CONST(n) napi_create_uint32(env, n, &v); napi_set_named_property(env, exports, #n, v);
  CONST(IN_CLOSE_WRITE) CONST(IN_MOVED_TO) CONST(IN_MOVED_FROM) CONST(IN_CREATE) CONST(IN_DELETE)
  CONST(IN_DELETE_SELF) CONST(IN_MOVE_SELF) CONST(IN_UNMOUNT) CONST(IN_Q_OVERFLOW) CONST(IN_IGNORED)
  CONST(IN_ISDIR) CONST(IN_ONLYDIR) CONST(IN_DONT_FOLLOW) CONST(IN_EXCL_UNLINK)
  return exports;
}
