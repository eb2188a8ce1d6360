/*
** complete.c: Tab completion in the dmalab REPL: globals and keywords, or
** the fields of a table or userdata after "a.b." or "a:" (methods only).
**
** The completer reads tables with raw access only (following __index tables
** and the __methods tables of userdata classes), so no user code runs while
** the user is typing; the one exception is a field a binding's C __index
** computes, listed in its class's __fields (mdl.ByteCount,
** adapter.DmaOperations.MapTransfer). It runs under a protected call, since
** an error must not unwind through readline.
*/
#include <stdio.h>
#include <string.h>

#include <readline/readline.h>

#include <lua.h>

#include "../bindings/lcall.h"
#include "complete.h"

#define CHAIN_MAX 16         /* metatable hops in completion (cycles) */

/* The state, for readline's completion callback, which cannot be given a
** pointer. */
static lua_State *completeL = NULL;

/* What ends the word being completed: operators and brackets, but not '.'
** or ':', so that "a.b:c" reaches the completer whole. */
static const char word_breaks[] = " \t\n\"'\\`@$><=;|&+-*/%^~#,{}()[]";

static const char *const keywords[] = {
  "and", "break", "do", "else", "elseif", "end", "false", "for",
  "function", "goto", "if", "in", "local", "nil", "not", "or", "repeat",
  "return", "then", "true", "until", "while", NULL
};

/* Is s[0..len) a Lua name (and so completable after '.')? */
static int is_name(const char *s, size_t len) {
  if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
    return 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9')))
      return 0;
  }
  return 1;
}

/* Replaces the value on top by the next table to search for its fields:
** its metatable's __index if a table, else the metatable's __methods table
** (the convention for userdata whose __index is a function), else nil.
** Raw access only, so no user code runs while the user is typing. */
static void next_in_chain(lua_State *L) {
  if (lua_getmetatable(L, -1)) {
    lua_pushliteral(L, "__index");
    if (lua_rawget(L, -2) != LUA_TTABLE) {
      lua_pop(L, 1);
      lua_pushliteral(L, "__methods");
      lua_rawget(L, -2);
    }
    lua_remove(L, -2);  /* metatable */
  } else {
    lua_pushnil(L);
  }
  lua_remove(L, -2);  /* the previous value */
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

/* Protected body of computed_field: pushes value[key]. */
static int index_value(lua_State *L) {
  lua_gettable(L, 1);
  return 1;
}

/* If the value on top is a userdata whose class lists s[0..len) among the
** fields its C __index serves (__fields, set by the bindings), replaces it
** by that field and returns 1; such an __index only reads the object. */
static int computed_field(lua_State *L, const char *s, size_t len) {
  if (lua_type(L, -1) != LUA_TUSERDATA || !lua_getmetatable(L, -1))
    return 0;
  lua_pushliteral(L, "__index");
  int cfunc = lua_rawget(L, -2) == LUA_TFUNCTION && lua_iscfunction(L, -1);
  lua_pop(L, 1);
  lua_pushliteral(L, "__fields");
  int listed = 0;
  if (cfunc && lua_rawget(L, -2) == LUA_TTABLE) {
    lua_pushlstring(L, s, len);
    listed = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 1);
  }
  lua_pop(L, 2);  /* __fields (or nil), metatable */
  if (!listed)
    return 0;
  lua_pushcfunction(L, index_value);
  lua_pushvalue(L, -2);
  lua_pushlstring(L, s, len);
  if (lua_pcall(L, 2, 1, 0) != LUA_OK) {  /* e.g. a closed machine */
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  lua_remove(L, -2);
  return 1;
}

/* Replaces the value on top by its field s[0..len), or nil. */
static void get_field(lua_State *L, const char *s, size_t len) {
  if (computed_field(L, s, len))
    return;
  for (int hop = 0; hop < CHAIN_MAX && !lua_isnil(L, -1); hop++) {
    if (lua_istable(L, -1)) {
      lua_pushlstring(L, s, len);
      if (lua_rawget(L, -2) != LUA_TNIL) {
        lua_remove(L, -2);
        return;
      }
      lua_pop(L, 1);
    }
    next_in_chain(L);
  }
  lua_pop(L, 1);
  lua_pushnil(L);
}

/* Adds the computed fields of a userdata on top (its class's __fields) to
** the set at `set` (as true: they are no methods). */
static void add_computed(lua_State *L, int set) {
  if (lua_type(L, -1) != LUA_TUSERDATA || !lua_getmetatable(L, -1))
    return;
  lua_pushliteral(L, "__fields");
  if (lua_rawget(L, -2) == LUA_TTABLE) {
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
      if (lua_type(L, -2) != LUA_TSTRING)
        continue;
      lua_pushvalue(L, -2);
      lua_pushboolean(L, 1);
      lua_rawset(L, set);
    }
  }
  lua_pop(L, 2);
}

/* Adds the name fields of the value on top (and of its chain) to the set
** at `set` as name -> value, nearest first; pops the value. */
static void add_fields(lua_State *L, int set) {
  add_computed(L, set);
  for (int hop = 0; hop < CHAIN_MAX && !lua_isnil(L, -1); hop++) {
    if (lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2) != 0) {
        /* lua_tolstring would turn a number key into a string and break
        ** lua_next, so only real string keys are looked at */
        if (lua_type(L, -2) == LUA_TSTRING &&
            is_name(lua_tostring(L, -2), lua_rawlen(L, -2))) {
          lua_pushvalue(L, -2);
          if (lua_rawget(L, set) == LUA_TNIL) {
            lua_pushvalue(L, -3);
            lua_pushvalue(L, -3);
            lua_rawset(L, set);
          }
          lua_pop(L, 1);
        }
        lua_pop(L, 1);
      }
    }
    next_in_chain(L);
  }
  lua_pop(L, 1);
}

/* Pushes the value named by text[0..len) ("a.b.c"), or nil if it is not a
** chain of names. */
static void walk_path(lua_State *L, const char *text, size_t len) {
  lua_pushglobaltable(L);
  const char *p = text, *end = text + len;
  while (p <= end && !lua_isnil(L, -1)) {
    const char *dot = memchr(p, '.', (size_t)(end - p));
    const char *stop = (dot != NULL) ? dot : end;
    if (!is_name(p, (size_t)(stop - p))) {
      lua_pop(L, 1);
      lua_pushnil(L);
      return;
    }
    get_field(L, p, (size_t)(stop - p));
    p = stop + 1;
  }
}

/* Protected body of the completer: for the light userdata text (argument 1)
** returns a list of its completions, full text from the start of the word. */
static int collect_completions(lua_State *L) {
  const char *text = (const char *)lua_touserdata(L, 1);
  const char *sep = NULL;  /* the last '.' or ':' */
  for (const char *c = text; *c != '\0'; c++)
    if (*c == '.' || *c == ':')
      sep = c;
  const char *prefix = (sep != NULL) ? sep + 1 : text;
  size_t plen = strlen(prefix);
  lua_newtable(L);  /* 2: result list */
  lua_newtable(L);  /* 3: set of candidate names */
  if (sep == NULL) {
    lua_pushglobaltable(L);
    for (int i = 0; keywords[i] != NULL; i++) {
      lua_pushboolean(L, 1);
      lua_setfield(L, 3, keywords[i]);
    }
  } else if (memchr(text, ':', (size_t)(sep - text)) != NULL) {
    lua_pushnil(L);  /* "a:b.c" is no expression */
  } else {
    walk_path(L, text, (size_t)(sep - text));
  }
  add_fields(L, 3);
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, 3) != 0) {
    size_t klen;
    const char *k = lua_tolstring(L, -2, &klen);
    /* after ':' only methods make sense */
    int wanted = klen >= plen && strncmp(k, prefix, plen) == 0 &&
                 (sep == NULL || *sep != ':' || lua_type(L, -1) == LUA_TFUNCTION);
    lua_pop(L, 1);
    if (wanted) {
      lua_pushlstring(L, text, (size_t)(prefix - text));
      lua_pushvalue(L, -2);
      lua_concat(L, 2);
      lua_rawseti(L, 2, ++n);
    }
  }
  lua_settop(L, 2);
  return 1;
}

/* Index of the next candidate handed to readline by next_candidate. */
static lua_Integer cand_index;

/* readline generator: hands out (as malloc'ed copies) the entries of the
** list that complete() leaves on top of the stack. */
static char *next_candidate(const char *text, int state) {
  (void)text;  /* the list was already filtered */
  if (state == 0)
    cand_index = 1;
  if (lua_rawgeti(completeL, -1, cand_index++) != LUA_TSTRING) {
    lua_pop(completeL, 1);
    return NULL;
  }
  char *copy = strdup(lua_tostring(completeL, -1));
  lua_pop(completeL, 1);
  return copy;
}

/* readline completion hook: globals and keywords, or fields after "a.b." /
** "a:". Never falls back to file names. */
static char **complete(const char *text, int start, int end) {
  (void)start;
  (void)end;
  rl_attempted_completion_over = 1;
  rl_completion_append_character = '\0';  /* the user chooses '.', '(', ... */
  lua_State *L = completeL;
  char **matches = NULL;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 4))  /* cannot raise: we are inside readline */
    return NULL;
  /* the text goes as light userdata: pushing it as a string could raise a
  ** memory error outside any protected call */
  lua_pushcfunction(L, collect_completions);
  lua_pushlightuserdata(L, (void *)text);
  if (dl_docall(L, 1, 1) == LUA_OK && lua_istable(L, -1))
    matches = rl_completion_matches(text, next_candidate);
  lua_settop(L, top);
  return matches;
}

/* Makes readline complete with `complete` in the state L. */
void dl_completion_init(lua_State *L) {
  completeL = L;
  rl_attempted_completion_function = complete;
  /* both: readline's first initialization copies the basic set over the
  ** completer one */
  rl_basic_word_break_characters = word_breaks;
  rl_completer_word_break_characters = word_breaks;
}
