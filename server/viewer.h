/*
 * viewer.h — the run viewer's static files (viewer/ in the source tree),
 * embedded in the binary at build time by cmake/embed.cmake.
 */
#ifndef CAIRN_SERVER_VIEWER_H
#define CAIRN_SERVER_VIEWER_H

#include <stddef.h>

typedef struct viewer_file {
  const char *path;           /* "/index.html", "/js/app.js", ... */
  const unsigned char *data;
  size_t len;
} viewer_file;

/* Every file, ending with {NULL, NULL, 0}. */
extern const viewer_file viewer_files[];

/* The file a GET of `path` answers: a file under /viewer/ by its name,
 * and index.html for the page's own addresses (/, /runs/..., /compare/...,
 * /lineage/..., /audit); NULL for any other path (the API's). Sets the
 * content type. */
const viewer_file *viewer_lookup(const char *path, const char **type);

#endif
