/* Minimal JSON reader for the sim's config file (objects, arrays, numbers,
 * strings without \u escapes beyond ASCII, true/false/null). */
#ifndef GENTLY_SIM_JSON_H
#define GENTLY_SIM_JSON_H

#include <stddef.h>

typedef enum { SJ_NULL, SJ_BOOL, SJ_NUMBER, SJ_STRING, SJ_ARRAY, SJ_OBJECT } sj_type;

typedef struct sj_node {
  sj_type type;
  double number; /* SJ_NUMBER, SJ_BOOL (0/1) */
  char *string;  /* SJ_STRING */
  char *key;     /* member name when the parent is an object */
  struct sj_node *child, *next;
} sj_node;

/* Parses text; NULL on error with a message (incl. byte offset) in err. */
sj_node *sj_parse(const char *text, char *err, size_t cap);
void sj_free(sj_node *n);
const sj_node *sj_get(const sj_node *obj, const char *key);

#endif
