/*
 * viewer.c — which embedded file of the run viewer a path names
 * (viewer.h). The page routes itself in the browser (history API), so
 * every address of the page answers index.html and a pasted
 * /runs/{id} opens that run.
 */
#include "viewer.h"

#include <stdbool.h>
#include <string.h>

static const char *const pages[] = {"/runs/", "/compare/", "/lineage/", NULL};

static bool is_page(const char *path) {
  if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0 ||
      strcmp(path, "/runs") == 0 || strcmp(path, "/audit") == 0)
    return true;
  for (int i = 0; pages[i]; i++)
    if (strncmp(path, pages[i], strlen(pages[i])) == 0)
      return true;
  return false;
}

static const char *type_of(const char *path) {
  const char *dot = strrchr(path, '.');
  if (dot == NULL)
    return "application/octet-stream";
  if (strcmp(dot, ".html") == 0) return "text/html; charset=utf-8";
  if (strcmp(dot, ".css") == 0) return "text/css; charset=utf-8";
  if (strcmp(dot, ".js") == 0) return "text/javascript; charset=utf-8";
  if (strcmp(dot, ".svg") == 0) return "image/svg+xml";
  return "application/octet-stream";
}

const viewer_file *viewer_lookup(const char *path, const char **type) {
  const char *name = NULL;
  if (is_page(path))
    name = "/index.html";
  else if (strncmp(path, "/viewer/", 8) == 0)
    name = path + 7;
  if (name == NULL)
    return NULL;
  for (const viewer_file *f = viewer_files; f->path; f++)
    if (strcmp(f->path, name) == 0) {
      *type = type_of(f->path);
      return f;
    }
  return NULL;
}
