#include "sim_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *s;
  size_t pos;
  char *err;
  size_t cap;
  int failed;
  int depth;
} sj_parser;

static void fail(sj_parser *p, const char *what) {
  if (!p->failed && p->err && p->cap) snprintf(p->err, p->cap, "config JSON: %s at byte %zu", what, p->pos);
  p->failed = 1;
}

static void skip_ws(sj_parser *p) {
  while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r') p->pos++;
}

static sj_node *node(sj_type t) {
  sj_node *n = calloc(1, sizeof *n);
  if (n) n->type = t;
  return n;
}

static char *parse_string_raw(sj_parser *p) {
  if (p->s[p->pos] != '"') return fail(p, "expected string"), NULL;
  p->pos++;
  size_t cap = 16, len = 0;
  char *out = malloc(cap);
  if (!out) return fail(p, "out of memory"), NULL;
  for (;;) {
    char c = p->s[p->pos++];
    if (c == '\0') {
      free(out);
      return fail(p, "unterminated string"), NULL;
    }
    if (c == '"') break;
    if (c == '\\') {
      char e = p->s[p->pos++];
      switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        default: free(out); return fail(p, "unsupported string escape"), NULL;
      }
    }
    if (len + 2 > cap) {
      cap *= 2;
      char *n = realloc(out, cap);
      if (!n) {
        free(out);
        return fail(p, "out of memory"), NULL;
      }
      out = n;
    }
    out[len++] = c;
  }
  out[len] = '\0';
  return out;
}

static sj_node *parse_value(sj_parser *p);

static sj_node *parse_container(sj_parser *p, int is_object) {
  sj_node *n = node(is_object ? SJ_OBJECT : SJ_ARRAY);
  if (!n) return fail(p, "out of memory"), NULL;
  if (++p->depth > 64) {
    sj_free(n);
    return fail(p, "nesting too deep"), NULL;
  }
  p->pos++; /* '{' or '[' */
  skip_ws(p);
  char close = is_object ? '}' : ']';
  sj_node **tail = &n->child;
  if (p->s[p->pos] == close) {
    p->pos++;
    p->depth--;
    return n;
  }
  for (;;) {
    char *key = NULL;
    skip_ws(p);
    if (is_object) {
      key = parse_string_raw(p);
      if (!key) break;
      skip_ws(p);
      if (p->s[p->pos] != ':') {
        free(key);
        fail(p, "expected ':'");
        break;
      }
      p->pos++;
    }
    sj_node *v = parse_value(p);
    if (!v) {
      free(key);
      break;
    }
    v->key = key;
    *tail = v;
    tail = &v->next;
    skip_ws(p);
    if (p->s[p->pos] == ',') {
      p->pos++;
      continue;
    }
    if (p->s[p->pos] == close) {
      p->pos++;
      p->depth--;
      return n;
    }
    fail(p, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    break;
  }
  sj_free(n);
  return NULL;
}

static sj_node *parse_value(sj_parser *p) {
  skip_ws(p);
  char c = p->s[p->pos];
  if (c == '{') return parse_container(p, 1);
  if (c == '[') return parse_container(p, 0);
  if (c == '"') {
    char *s = parse_string_raw(p);
    if (!s) return NULL;
    sj_node *n = node(SJ_STRING);
    if (!n) {
      free(s);
      return fail(p, "out of memory"), NULL;
    }
    n->string = s;
    return n;
  }
  static const struct {
    const char *word;
    sj_type type;
    double value;
  } words[] = {{"true", SJ_BOOL, 1}, {"false", SJ_BOOL, 0}, {"null", SJ_NULL, 0}};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    size_t len = strlen(words[i].word);
    if (strncmp(p->s + p->pos, words[i].word, len) == 0) {
      p->pos += len;
      sj_node *n = node(words[i].type);
      if (!n) return fail(p, "out of memory"), NULL;
      n->number = words[i].value;
      return n;
    }
  }
  if (c == '-' || (c >= '0' && c <= '9')) {
    char *end = NULL;
    double v = strtod(p->s + p->pos, &end);
    if (end == p->s + p->pos) return fail(p, "bad number"), NULL;
    p->pos = (size_t)(end - p->s);
    sj_node *n = node(SJ_NUMBER);
    if (!n) return fail(p, "out of memory"), NULL;
    n->number = v;
    return n;
  }
  return fail(p, "unexpected character"), NULL;
}

sj_node *sj_parse(const char *text, char *err, size_t cap) {
  sj_parser p = {text, 0, err, cap, 0, 0};
  sj_node *n = parse_value(&p);
  if (!n) return NULL;
  skip_ws(&p);
  if (p.s[p.pos] != '\0') {
    fail(&p, "trailing characters");
    sj_free(n);
    return NULL;
  }
  return n;
}

void sj_free(sj_node *n) {
  while (n) {
    sj_node *next = n->next;
    sj_free(n->child);
    free(n->string);
    free(n->key);
    free(n);
    n = next;
  }
}

const sj_node *sj_get(const sj_node *obj, const char *key) {
  if (!obj || obj->type != SJ_OBJECT) return NULL;
  for (const sj_node *c = obj->child; c; c = c->next)
    if (c->key && strcmp(c->key, key) == 0) return c;
  return NULL;
}
