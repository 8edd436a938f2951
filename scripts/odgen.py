#!/usr/bin/env python3
"""odgen.py - generate Odradek's Kafka protocol codecs from core/proto/schema/ (.ods files).

Usage: python3 scripts/odgen.py --out-dir DIR [--name BASE] core/proto/schema/*.ods
Writes DIR/od_proto_gen.h and DIR/od_proto_gen.c (DIR/BASE.[ch] with --name:
a module compiles its own codecs, e.g. the kraft module's kraft_proto_gen). Python 3 standard library
only; the output depends only on the schema contents (not on file order).

The .ods format (doc/protocol-schemas.md has the long version)
--------------------------------------------------------------
Line oriented. Blank lines and lines whose first non-blank character is '#'
are ignored. Indentation is two spaces per level and means nesting.

A message starts at column 0:

    <kind> <Name> [key <apiKey>] versions <range> flex <range>

  kind     request | response | metadata (KRaft record) | data (no api key)
  range    N | N-M | N+ | none       (flex: first flexible version, or none)

Each field is one line, indented under its message or struct:

    <Name> <type> <versions> [nullable <range>] [default <value>]
                             [tag <n> [tagged <range>]]

  type     int8 int16 int32 int64 uint16 uint32 float64 bool string bytes
           uuid records, a struct name, or []<any of these> for an array
  default  a number (decimal or 0x hex), true/false, null, or a string
           ("" quotes an empty or spaced one)
  tag      the field is a tagged field with that tag in the flexible
           versions listed by `tagged` (default: all its versions)

A field of struct type either has its fields indented below it, or names a
struct defined once in the message with

    common <Name> <versions>

at field level, its fields indented below. The file errors.ods starts with
the word `errors` on its own line followed by `<code> <NAME> <message...>`.
"""
import argparse
import os
import re
import shlex
import sys

INF = 1 << 15
PRIM = {  # name: (C type, fixed size or None)
    'int8': ('int8_t', 1), 'int16': ('int16_t', 2), 'int32': ('int32_t', 4),
    'int64': ('int64_t', 8), 'uint16': ('uint16_t', 2), 'uint32': ('uint32_t', 4),
    'float64': ('double', 8), 'bool': ('int8_t', 1), 'uuid': ('od_uuid_t', 16),
    'string': ('od_str_t', None), 'bytes': ('od_bytes_t', None),
    'records': ('od_records_t', None),
}
KINDS = ('request', 'response', 'metadata', 'data')
C_RESERVED = set('''auto break case char const continue default do double else enum
extern float for goto if inline int long register restrict return short signed sizeof
static struct switch typedef union unsigned void volatile while bool true false errno
assert NULL'''.split())


class SchemaError(Exception):
    pass


def parse_range(text, where):
    if text == 'none':
        return None
    m = re.fullmatch(r'(\d+)(?:(\+)|-(\d+))?', text)
    if not m:
        raise SchemaError('%s: bad version range %r' % (where, text))
    lo = int(m.group(1))
    hi = INF if m.group(2) else int(m.group(3) if m.group(3) else lo)
    if hi < lo:
        raise SchemaError('%s: empty version range %r' % (where, text))
    return (lo, hi)


def clip(r, lo, hi):
    if r is None:
        return None
    a, b = max(r[0], lo), min(r[1], hi)
    return (a, b) if a <= b else None


def snake(name):
    s = re.sub(r'(?<=[a-z0-9])(?=[A-Z])', '_', name)
    s = re.sub(r'(?<=[A-Z])(?=[A-Z][a-z])', '_', s).lower()
    return s + '_' if s in C_RESERVED else s


def upper_snake(name):
    return snake(name).rstrip('_').upper()


class Struct:
    def __init__(self, msg, name):
        self.msg, self.name, self.fields = msg, name, []
        self.ctype = 'od_%s_t' % self.cname if name else None

    @property
    def cname(self):  # "ProduceRequest_TopicProduceData" / "ProduceRequest"
        return self.msg.name + ('_' + self.name if self.name else '')


class Field:
    pass


class Message:
    def __init__(self, kind, name, key, vers, flex, where):
        self.kind, self.name, self.key, self.where = kind, name, key, where
        self.lo, self.hi = vers
        self.flex = clip(flex, self.lo, self.hi)
        self.top = Struct(self, None)
        self.top.ctype = 'od_%s_t' % name
        self.structs = {}  # nested struct name -> Struct

    def cond(self, r):
        """C condition for `v in r`; None means always, '0' never."""
        r = clip(r, self.lo, self.hi)
        if r is None:
            return '0'
        parts = []
        if r[0] > self.lo:
            parts.append('v >= %d' % r[0])
        if r[1] < self.hi:
            parts.append('v <= %d' % r[1])
        return ' && '.join(parts) or None

    def versions(self):
        return range(self.lo, self.hi + 1)


def inr(r, v):
    return r is not None and r[0] <= v <= r[1]


# ---- parsing ---------------------------------------------------------------

def parse_file(path, messages, errors):
    with open(path, encoding='utf-8') as f:
        lines = f.read().split('\n')
    stack = []  # (indent level, Struct) of open structs
    msg = None
    in_errors = False
    for no, raw in enumerate(lines, 1):
        where = '%s:%d' % (path, no)
        if not raw.strip() or raw.lstrip().startswith('#'):
            continue
        if '\t' in raw[:len(raw) - len(raw.lstrip())]:
            raise SchemaError(where + ': indent with spaces')
        ind = len(raw) - len(raw.lstrip(' '))
        if ind % 2:
            raise SchemaError(where + ': indentation must be a multiple of 2')
        level = ind // 2
        if in_errors:
            parts = raw.split(None, 2)
            if len(parts) < 2:
                raise SchemaError(where + ': expected <code> <NAME> <message>')
            errors.append((int(parts[0]), parts[1], parts[2] if len(parts) > 2 else '', where))
            continue
        try:
            tok = shlex.split(raw, posix=True)
        except ValueError as e:
            raise SchemaError('%s: %s' % (where, e))
        if level == 0:
            if tok == ['errors']:
                in_errors = True
                continue
            msg = parse_header(tok, where)
            messages.append(msg)
            stack = [(0, msg.top)]
            continue
        if msg is None:
            raise SchemaError(where + ': field outside a message')
        while stack and stack[-1][0] >= level:
            stack.pop()
        if not stack or stack[-1][0] != level - 1:
            raise SchemaError(where + ': unexpected indentation')
        parent = stack[-1][1]
        if tok[0] == 'common':
            if parent is not msg.top or len(tok) != 3:
                raise SchemaError(where + ': `common <Name> <versions>` at field level')
            st = new_struct(msg, tok[1], where)
            stack.append((level, st))
            continue
        fld = parse_field(msg, tok, where)
        parent.fields.append(fld)
        if fld.struct_name:
            # Fields indented below define the struct; a common struct is
            # resolved once the message is complete.
            stack.append((level, fld))
    return messages


def new_struct(msg, name, where):
    if name in msg.structs:
        raise SchemaError('%s: struct %s defined twice in %s' % (where, name, msg.name))
    st = Struct(msg, name)
    msg.structs[name] = st
    return st


def parse_header(tok, where):
    if not tok or tok[0] not in KINDS or len(tok) < 2:
        raise SchemaError(where + ': expected <kind> <Name> ...')
    kind, name, rest = tok[0], tok[1], tok[2:]
    opts = dict(zip(rest[0::2], rest[1::2]))
    if len(rest) % 2 or set(opts) - {'key', 'versions', 'flex'}:
        raise SchemaError(where + ': header options are key, versions, flex')
    if 'versions' not in opts or 'flex' not in opts:
        raise SchemaError(where + ': header needs versions and flex')
    key = int(opts['key']) if 'key' in opts else None
    if (key is None) != (kind == 'data'):
        raise SchemaError(where + ': key is required except for data messages')
    vers = parse_range(opts['versions'], where)
    if vers is None or vers[1] == INF:
        raise SchemaError(where + ': versions must be bounded')
    return Message(kind, name, key, vers, parse_range(opts['flex'], where), where)


def parse_field(msg, tok, where):
    if len(tok) < 3:
        raise SchemaError(where + ': expected <Name> <type> <versions> ...')
    f = Field()
    f.name, f.where = tok[0], where
    f.cname = snake(tok[0])
    t = tok[1]
    f.array = t.startswith('[]')
    base = t[2:] if f.array else t
    f.prim = base if base in PRIM else None
    f.struct_name = None if f.prim else base
    f.struct = None
    if f.struct_name and not re.fullmatch(r'[A-Z][A-Za-z0-9]*', base):
        raise SchemaError('%s: bad type %r' % (where, t))
    f.versions = parse_range(tok[2], where)
    f.nullable = None
    f.default = None
    f.tag = None
    f.tagged = None
    f.fields = []  # when it defines its struct inline
    rest = tok[3:]
    i = 0
    while i < len(rest):
        k = rest[i]
        if i + 1 >= len(rest):
            raise SchemaError('%s: %s needs a value' % (where, k))
        val = rest[i + 1]
        if k == 'nullable':
            f.nullable = parse_range(val, where)
        elif k == 'default':
            f.default = val
        elif k == 'tag':
            f.tag = int(val)
        elif k == 'tagged':
            f.tagged = parse_range(val, where)
        else:
            raise SchemaError('%s: unknown option %r' % (where, k))
        i += 2
    if f.tag is not None and f.tagged is None:
        f.tagged = f.versions
    if f.tagged is not None and f.tag is None:
        raise SchemaError(where + ': tagged without tag')
    if f.nullable and f.prim not in ('string', 'bytes', 'records') and not f.array:
        raise SchemaError(where + ': only strings, bytes, records and arrays can be null')
    return f


def resolve(msg):
    """Turn inline struct definitions into Structs, link the rest to
    common structs, clip versions to the message's, check names."""
    commons = list(msg.structs.values())

    def define(fields):
        for f in fields:
            if not f.struct_name:
                if f.fields:
                    raise SchemaError(f.where + ': a primitive field cannot have fields')
            elif f.fields:
                f.struct = new_struct(msg, f.struct_name, f.where)
                f.struct.fields = f.fields
                define(f.fields)
    define(msg.top.fields)
    for st in commons:
        define(st.fields)
    for st in [msg.top] + list(msg.structs.values()):
        for f in st.fields:
            if f.struct_name and f.struct is None:
                if f.struct_name not in msg.structs:
                    raise SchemaError('%s: unknown struct %s' % (f.where, f.struct_name))
                f.struct = msg.structs[f.struct_name]
        names = set()
        for f in st.fields:
            for n in [f.cname] + ([f.cname + '_count'] if f.array else []):
                if n in names:
                    raise SchemaError('%s: member %s clashes in %s' % (f.where, n, st.cname))
                names.add(n)
            f.versions = clip(f.versions, msg.lo, msg.hi)
            f.tagged = clip(f.tagged, msg.lo, msg.hi)
            if f.tagged and not all(inr(msg.flex, v) for v in range(f.tagged[0], f.tagged[1] + 1)):
                raise SchemaError(f.where + ': tagged versions must be flexible')
        tags = [f.tag for f in st.fields if f.tag is not None]
        if len(tags) != len(set(tags)):
            raise SchemaError('%s: duplicate tag in %s' % (msg.where, st.cname))
        # Fields that exist in none of our versions are not generated.
        st.fields = [f for f in st.fields if f.versions is not None]


# ---- C generation helpers -----------------------------------------------

def struct_order(msg):
    """Nested structs in dependency order (children first)."""
    out, seen = [], set()

    def visit(st):
        for f in st.fields:
            if f.struct and f.struct.name not in seen:
                seen.add(f.struct.name)
                visit(f.struct)
                out.append(f.struct)
    visit(msg.top)
    return out


def is_flex(msg, v):
    return inr(msg.flex, v)


def fixed_here(f, v):
    """Field is in the struct's fixed part at version v."""
    return inr(f.versions, v) and not inr(f.tagged, v)


def prim_min(p, flex):
    size = PRIM[p][1]
    if size is not None:
        return size
    if p == 'string':
        return 1 if flex else 2
    return 1 if flex else 4  # bytes, records


def struct_min(msg, st, v, memo):
    k = (st.name, v)
    if k in memo:
        return memo[k]
    memo[k] = 0  # recursion guard
    flex = is_flex(msg, v)
    n = 1 if flex else 0
    for f in st.fields:
        if fixed_here(f, v):
            n += field_min(msg, f, v, memo)
    memo[k] = n
    return n


def field_min(msg, f, v, memo):
    flex = is_flex(msg, v)
    if f.array:
        return 1 if flex else 4
    if f.prim:
        return prim_min(f.prim, flex)
    return struct_min(msg, f.struct, v, memo)


def elem_min(msg, f, memo):
    sizes = []
    for v in msg.versions():
        if inr(f.versions, v):
            if f.prim:
                sizes.append(prim_min(f.prim, is_flex(msg, v)))
            else:
                sizes.append(struct_min(msg, f.struct, v, memo))
    return max(1, min(sizes)) if sizes else 1


def c_int(val, ctype):
    lims = {'int8_t': 8, 'int16_t': 16, 'int32_t': 32, 'int64_t': 64}
    if ctype in lims:
        bits = lims[ctype]
        if not -(1 << (bits - 1)) <= val < (1 << (bits - 1)):
            raise SchemaError('default %d out of range for %s' % (val, ctype))
        if val == -(1 << (bits - 1)):
            return 'INT%d_MIN' % bits
        return 'INT64_C(%d)' % val if bits == 64 else str(val)
    if ctype in ('uint16_t', 'uint32_t'):
        if val < 0 or val >= (1 << (16 if ctype == 'uint16_t' else 32)):
            raise SchemaError('default %d out of range for %s' % (val, ctype))
        return '%du' % val
    return repr(float(val))


def c_string(s):
    return '"%s"' % s.replace('\\', '\\\\').replace('"', '\\"')


def default_of(f):
    """(kind, C expression) of a field's default."""
    d = f.default
    if f.array:
        if d not in (None, 'null', '[]'):
            raise SchemaError(f.where + ': array defaults are null or empty')
        return '-1' if d == 'null' else '0'
    if f.struct:
        if d is not None:
            raise SchemaError(f.where + ': struct fields take no default')
        return None
    p = f.prim
    if p in ('string', 'bytes', 'records'):
        if d == 'null' or (p == 'records' and d is None):
            return 'null'
        if p != 'string' and d not in (None, ''):
            raise SchemaError(f.where + ': bytes default must be empty or null')
        return d or ''
    if p == 'uuid':
        return None
    if p == 'bool':
        if d not in (None, 'true', 'false'):
            raise SchemaError(f.where + ': bool default is true or false')
        return '1' if d == 'true' else '0'
    if d is None:
        return '0'
    try:
        val = float(d) if p == 'float64' else int(d, 0)
    except ValueError:
        raise SchemaError('%s: bad default %r' % (f.where, d))
    return c_int(val, PRIM[p][0])


class Out:
    def __init__(self):
        self.lines = []

    def __call__(self, text=''):
        self.lines.append(text)

    def text(self):
        return '\n'.join(self.lines) + '\n'


def pick(flex, a, b):
    """Choose between compact (a) and classic (b) code given a flex expr."""
    if flex == '1':
        return a
    if flex == '0':
        return b
    return '%s ? %s : %s' % (flex, a, b)


def flex_call(flex, compact, classic):
    """Statement lines choosing between a compact and a classic write."""
    if flex == '1':
        return [compact]
    if flex == '0':
        return [classic]
    return ['if (%s)' % flex, '    ' + compact, 'else', '    ' + classic]


def and_cond(*cs):
    cs = [c for c in cs if c is not None]
    if '0' in cs:
        return '0'
    return ' && '.join('(%s)' % c if '||' in c else c for c in cs) or None


def cond_set(msg, vs):
    """C condition for `v in vs` (a set of versions of msg)."""
    vs = sorted(v for v in vs if msg.lo <= v <= msg.hi)
    if not vs:
        return '0'
    if vs == list(msg.versions()):
        return None
    runs, start = [], vs[0]
    for a, b in zip(vs, vs[1:] + [None]):
        if b != a + 1:
            runs.append((start, a))
            start = b
    parts = []
    for a, b in runs:
        c = msg.cond((a, b))
        parts.append(c if c else '1')
    return ' || '.join(parts)


def vset(msg, pred):
    return {v for v in msg.versions() if pred(v)}


def flex_expr(msg, vs=None):
    """'1', '0' or 'flex' for the versions vs (default: all)."""
    vs = list(msg.versions()) if vs is None else list(vs)
    fl = [is_flex(msg, v) for v in vs]
    if all(fl):
        return '1'
    if not any(fl):
        return '0'
    return 'flex'


def nullable_expr(msg, f, elem):
    if elem or f.nullable is None:
        return '0'
    c = cond_set(msg, vset(msg, lambda v: inr(f.nullable, v) and inr(f.versions, v)))
    return '1' if c is None else ('(%s)' % c if c != '0' else '0')


def fn_dec(st):
    return '%s_dec' % st.cname


def fn_enc(st):
    return '%s_enc' % st.cname


def fn_init(st):
    return 'od_%s_init' % st.cname


READ = {'int8': 'od_read_i8', 'int16': 'od_read_i16', 'int32': 'od_read_i32',
        'int64': 'od_read_i64', 'uint16': 'od_read_u16', 'uint32': 'od_read_u32',
        'float64': 'od_read_f64', 'uuid': 'od_read_uuid'}
WRITE = {'int8': 'od_write_i8', 'int16': 'od_write_i16', 'int32': 'od_write_i32',
         'int64': 'od_write_i64', 'uint16': 'od_write_u16', 'uint32': 'od_write_u32',
         'float64': 'od_write_f64', 'bool': 'od_write_bool'}


def dec_scalar(f, lhs, sl, flex, nul):
    """One statement decoding a non-array value of f's type into lhs."""
    p = f.prim
    if p in READ:
        return ['%s = %s(%s);' % (lhs, READ[p], sl)]
    if p == 'bool':
        return ['%s = (int8_t)od_read_bool(%s);' % (lhs, sl)]
    if p == 'string':
        return ['%s = %s;' % (lhs, pick(flex, 'od_read_compact_str(%s, %s)' % (sl, nul),
                                        'od_read_str(%s, %s)' % (sl, nul)))]
    if p == 'bytes':
        return ['%s = %s;' % (lhs, pick(flex, 'od_read_compact_bytes(%s, %s)' % (sl, nul),
                                        'od_read_bytes(%s, %s)' % (sl, nul)))]
    if p == 'records':
        return ['%s = read_records(%s, %s, %s);' % (lhs, sl, flex, nul)]
    return ['%s(%s, v, a, &%s);' % (fn_dec(f.struct), sl, lhs)]


def dec_field(msg, f, o, sl, flex):
    lhs = '%s->%s' % (o, f.cname)
    nul = nullable_expr(msg, f, False)
    if not f.array:
        return dec_scalar(f, lhs, sl, flex, nul)
    mn = elem_min(msg, f, {})
    out = ['{',
           '    int32_t n = %s;' % pick(flex, 'od_read_compact_array_len(%s, %d)' % (sl, mn),
                                       'od_read_array_len(%s, %d)' % (sl, mn))]
    if nul != '1':
        out.append('    if (n < 0 && !%s)' % nul if nul != '0' else '    if (n < 0)')
        out.append('        %s->err = 1;' % sl)
    out += ['    if (!%s->err) {' % sl,
            '        %s_count = n;' % lhs,
            '        if (n > 0) {',
            '            %s = od_arena_calloc(a, (size_t)n, sizeof *%s);' % (lhs, lhs),
            '            if (!%s) {' % lhs,
            '                %s->err = 1;' % sl,
            '                %s_count = 0;' % lhs,
            '            }',
            '            for (i = 0; %s && i < n && !%s->err; i++)' % (lhs, sl)]
    out += ['                ' + x for x in dec_scalar(f, '%s[i]' % lhs, sl, flex, '0')]
    out += ['        }', '    }', '}']
    return out


def enc_scalar(f, val, wv, flex, nul):
    p = f.prim
    if p in WRITE:
        return ['%s(%s, %s);' % (WRITE[p], wv, val)]
    if p == 'uuid':
        return ['od_write_uuid(%s, &%s);' % (wv, val)]
    if p in ('string', 'bytes'):
        kind = 'str' if p == 'string' else 'bytes'
        if nul != '1':
            val = ('nn_%s(%s)' % (kind, val) if nul == '0' else
                   '(%s ? %s : nn_%s(%s))' % (nul, val, kind, val))
        return flex_call(flex, 'od_write_compact_%s(%s, %s);' % (kind, wv, val),
                         'od_write_%s(%s, %s);' % (kind, wv, val))
    if p == 'records':
        return ['write_records(%s, &%s, %s, %s);' % (wv, val, flex, nul)]
    return ['%s(%s, v, &%s);' % (fn_enc(f.struct), wv, val)]


def enc_field(msg, f, o, wv, flex):
    lhs = '%s->%s' % (o, f.cname)
    nul = nullable_expr(msg, f, False)
    if not f.array:
        return enc_scalar(f, lhs, wv, flex, nul)
    out = ['{', '    int32_t n = %s_count;' % lhs, '    if (n > 0 && !%s)' % lhs,
           '        n = 0; /* count without elements: send none */']
    if nul != '1':
        out += ['    if (n < 0%s)' % ('' if nul == '0' else ' && !' + nul),
                '        n = 0; /* null where the version has no null: empty */']
    out += ['    ' + x for x in flex_call(flex, 'od_write_compact_array_len(%s, n);' % wv,
                                         'od_write_array_len(%s, n);' % wv)]
    out.append('    for (i = 0; i < n; i++) {')
    out += ['        ' + x for x in enc_scalar(f, '%s[i]' % lhs, wv, flex, '0')]
    out += ['    }', '}']
    return out


def nondefault(f, val):
    """C expression: val differs from f's default (tagged fields only)."""
    d = default_of(f)
    if f.array:
        return '%s_count != %s' % (val, d)
    if f.struct:
        return '!%s_is_default(&%s)' % (f.struct.cname, val)
    p = f.prim
    if p == 'uuid':
        return '!uuid_is_zero(&%s)' % val
    if p == 'bool':
        return '(%s != 0) != %s' % (val, d)
    if p in ('string', 'bytes', 'records'):
        if d == 'null':
            return '%s.len >= 0' % val + (' || %s.read' % val if p == 'records' else '')
        if d == '':
            return '%s.len != 0' % val
        return '!od_str_eq(%s, %s)' % (val, c_string(d))
    return '%s != %s' % (val, d)


def init_lines(f, lhs):
    d = default_of(f)
    if f.array:
        return ['%s_count = %s;' % (lhs, d)] if d != '0' else []
    if f.struct:
        return ['%s(&%s);' % (fn_init(f.struct), lhs)]
    p = f.prim
    if p in ('string', 'bytes', 'records'):
        if d == 'null':
            return ['%s.len = -1;' % lhs]
        if p == 'string':
            return ['%s.p = %s;' % (lhs, c_string(d)), '%s.len = %d;' % (lhs, len(d.encode()))]
        return ['%s.p = (const uint8_t *)"";' % lhs]
    if d is None or d in ('0', '0.0'):
        return []
    return ['%s = %s;' % (lhs, d)]


def member_decls(f):
    if f.array:
        et = f.struct.ctype if f.struct else PRIM[f.prim][0]
        return ['int32_t %s_count;' % f.cname, '%s *%s;' % (et, f.cname)]
    t = f.struct.ctype if f.struct else PRIM[f.prim][0]
    return ['%s %s;' % (t, f.cname)]


def needs_is_default(msg):
    """Structs whose default-ness must be checked (tagged struct fields)."""
    need = set()

    def mark(st):
        if st.name in need:
            return
        need.add(st.name)
        for f in st.fields:
            if f.struct and not f.array:
                mark(f.struct)
    for st in [msg.top] + list(msg.structs.values()):
        for f in st.fields:
            if f.tag is not None and f.struct and not f.array:
                mark(f.struct)
    return need


def gen_struct_code(msg, st, c, need_isdef):
    """init (public), dec, enc (static) and is_default for one struct."""
    has_array = any(f.array for f in st.fields)
    flex = flex_expr(msg)
    c('void %s(%s *m)' % (fn_init(st), st.ctype))
    c('{')
    c('    memset(m, 0, sizeof *m);')
    for f in st.fields:
        for x in init_lines(f, 'm->' + f.cname):
            c('    ' + x)
    c('}')
    c()
    if st.name in need_isdef:
        c('static int %s_is_default(const %s *o)' % (st.cname, st.ctype))
        c('{')
        exprs = [nondefault(f, 'o->' + f.cname) for f in st.fields]
        c('    return !(%s);' % (' ||\n             '.join(exprs) if exprs else '0'))
        c('}')
        c()
    fixed = [(f, cond_set(msg, vset(msg, lambda v, f=f: fixed_here(f, v)))) for f in st.fields]
    tagged = sorted([(f, cond_set(msg, vset(msg, lambda v, f=f: inr(f.tagged, v) and
                                              inr(f.versions, v))))
                     for f in st.fields if f.tag is not None], key=lambda x: x[0].tag)
    tagged = [(f, cd) for f, cd in tagged if cd != '0']

    # decode
    c('static void %s(od_slice_t *s, int16_t v, od_arena_t *a, %s *o)' % (fn_dec(st), st.ctype))
    c('{')
    if flex == 'flex':
        c('    const int flex = v >= %d;' % msg.flex[0])
    if has_array:
        c('    int32_t i;')
    c('    (void)v;')
    c('    (void)a;')
    c('    %s(o);' % fn_init(st))
    for f, cd in fixed:
        if cd == '0':
            continue
        body = dec_field(msg, f, 'o', 's', flex)
        emit_cond(c, cd, body, '    ')
    if flex != '0':
        ind = '    '
        if flex == 'flex':
            c('    if (flex) {')
            ind = '        '
        if not tagged:
            c(ind + 'skip_tags(s);')
        else:
            c(ind + '{')
            c(ind + '    uint32_t k, nt = od_read_uvarint(s);')
            c(ind + '    for (k = 0; k < nt && !s->err; k++) {')
            c(ind + '        uint32_t tag = od_read_uvarint(s), sz = od_read_uvarint(s);')
            c(ind + '        const uint8_t *tp = od_read_raw(s, sz);')
            c(ind + '        od_slice_t ts;')
            c(ind + '        if (!tp)')
            c(ind + '            break;')
            c(ind + '        od_slice_init(&ts, tp, sz);')
            c(ind + '        switch (tag) {')
            for f, cd in tagged:
                c(ind + '        case %d:' % f.tag)
                emit_cond(c, cd, dec_field(msg, f, 'o', '(&ts)', '1'), ind + '            ')
                c(ind + '            break;')
            c(ind + '        default: /* unknown tags are skipped */')
            c(ind + '            break;')
            c(ind + '        }')
            c(ind + '        if (ts.err)')
            c(ind + '            s->err = 1;')
            c(ind + '    }')
            c(ind + '}')
        if flex == 'flex':
            c('    }')
    c('}')
    c()

    # encode
    c('static void %s(od_wbuf_t *w, int16_t v, const %s *o)' % (fn_enc(st), st.ctype))
    c('{')
    if flex == 'flex':
        c('    const int flex = v >= %d;' % msg.flex[0])
    if has_array:
        c('    int32_t i;')
    c('    (void)v;')
    for f, cd in fixed:
        if cd == '0':
            continue
        emit_cond(c, cd, enc_field(msg, f, 'o', 'w', flex), '    ')
    if flex != '0':
        ind = '    '
        if flex == 'flex':
            c('    if (flex) {')
            ind = '        '
        if not tagged:
            c(ind + 'od_write_uvarint(w, 0); /* no tagged fields */')
        else:
            c(ind + '{')
            for f, cd in tagged:
                e = nondefault(f, 'o->' + f.cname)
                c(ind + '    const int t%d = %s;' % (f.tag, and_cond(cd, '(' + e + ')')))
            c(ind + '    od_write_uvarint(w, (uint32_t)(%s));' %
              ' + '.join('t%d' % f.tag for f, _ in tagged))
            for f, cd in tagged:
                c(ind + '    if (t%d) {' % f.tag)
                size = None if f.array or not f.prim else PRIM[f.prim][1]
                if size:  # fixed size: no need to encode it aside first
                    c(ind + '        od_write_uvarint(w, %d);' % f.tag)
                    c(ind + '        od_write_uvarint(w, %d);' % size)
                    for x in enc_field(msg, f, 'o', 'w', '1'):
                        c(ind + '        ' + x)
                    c(ind + '    }')
                    continue
                c(ind + '        od_wbuf_t tw;')
                c(ind + '        od_wbuf_init(&tw);')
                for x in enc_field(msg, f, 'o', '&tw', '1'):
                    c(ind + '        ' + x)
                c(ind + '        put_tagged(w, %d, &tw);' % f.tag)
                c(ind + '    }')
            c(ind + '}')
        if flex == 'flex':
            c('    }')
    c('}')
    c()


def emit_cond(c, cd, body, ind):
    if cd is None:
        for x in body:
            c(ind + x)
        return
    c(ind + 'if (%s) {' % cd)
    for x in body:
        c(ind + '    ' + x)
    c(ind + '}')


# ---- whole files -----------------------------------------------------------

C_HELPERS = r'''
#define OD_GEN_UNUSED __attribute__((unused))

/* Skips a tagged-field section: count, then (tag, size, bytes) each. */
static OD_GEN_UNUSED void skip_tags(od_slice_t *s)
{
    uint32_t k, n = od_read_uvarint(s);
    for (k = 0; k < n && !s->err; k++) {
        (void)od_read_uvarint(s);
        od_skip(s, od_read_uvarint(s));
    }
}

/* Appends one tagged field whose value was encoded into tw; frees tw. */
static OD_GEN_UNUSED void put_tagged(od_wbuf_t *w, uint32_t tag, od_wbuf_t *tw)
{
    size_t n = 0;
    uint8_t *p = od_wbuf_flatten(tw, &n);
    if (!p || n > UINT32_MAX) {
        w->err = 1;
    } else {
        od_write_uvarint(w, tag);
        od_write_uvarint(w, (uint32_t)n);
        od_write_raw(w, p, n);
    }
    free(p);
    od_wbuf_free(tw);
}

/* A null string or bytes where the version has no null goes out empty. */
static OD_GEN_UNUSED od_str_t nn_str(od_str_t s)
{
    if (s.len < 0) {
        s.p = "";
        s.len = 0;
    }
    return s;
}

static OD_GEN_UNUSED od_bytes_t nn_bytes(od_bytes_t b)
{
    if (b.len < 0) {
        b.p = (const uint8_t *)"";
        b.len = 0;
    }
    return b;
}

static OD_GEN_UNUSED int uuid_is_zero(const od_uuid_t *u)
{
    static const od_uuid_t zero;
    return memcmp(u->b, zero.b, sizeof zero.b) == 0;
}

static OD_GEN_UNUSED od_records_t read_records(od_slice_t *s, int flex, int nullable)
{
    od_records_t r;
    od_bytes_t b = flex ? od_read_compact_bytes(s, nullable) : od_read_bytes(s, nullable);
    r.p = b.p;
    r.len = b.len;
    r.read = NULL;
    return r;
}

/* Record data from a log read goes out as references (no copy); the wbuf
 * takes over each range's reference, also when it fails. */
static OD_GEN_UNUSED void write_records(od_wbuf_t *w, const od_records_t *r, int flex,
                                        int nullable)
{
    if (r->read) {
        const od_log_read_t *rd = r->read;
        size_t i, sum = 0, n = rd->nranges;
        if (n > OD_LOG_READ_MAX_RANGES) {
            n = OD_LOG_READ_MAX_RANGES;
            w->err = 1;
        }
        for (i = 0; i < n; i++)
            sum += rd->ranges[i].len;
        if (sum != rd->total || rd->total > (size_t)INT32_MAX - 1)
            w->err = 1; /* od_write_ref below still releases every range */
        if (flex)
            od_write_uvarint(w, (uint32_t)rd->total + 1u);
        else
            od_write_i32(w, (int32_t)rd->total);
        for (i = 0; i < n; i++) {
            const od_log_range_t *g = &rd->ranges[i];
            od_ref_t ref;
            memset(&ref, 0, sizeof ref);
            ref.mem = g->mem;
            ref.fd = g->fd;
            ref.file_off = g->file_off;
            ref.len = g->len;
            ref.release = g->release;
            ref.opaque = g->opaque;
            od_write_ref(w, g->is_file ? OD_SEG_FILEREF : OD_SEG_MEMREF, &ref);
        }
        return;
    } else {
        od_bytes_t b;
        b.p = r->p;
        b.len = r->len;
        if (b.len < 0 && !nullable)
            b = nn_bytes(b);
        if (flex)
            od_write_compact_bytes(w, b);
        else
            od_write_bytes(w, b);
    }
}
'''

H_FIXED = r'''
#ifndef OD_RECORDS_DEFINED
#define OD_RECORDS_DEFINED
/* Record batches. Decoded: p/len borrowed from the request (len -1 null),
 * read NULL. To send log data without copying, set read: encode then writes
 * read->total as the length and hands every range to the wbuf as a
 * reference (the wbuf releases them; encode such a struct once). */
typedef struct od_records {
    const uint8_t *p;
    int32_t len;
    const struct od_log_read *read;
} od_records_t;
#endif

typedef struct od_proto_api {
    int16_t key;
    const char *name;
    int16_t min_ver, max_ver, flex_from; /* flex_from: first flexible version or -1 */
} od_proto_api_t;

/* The api we have schemas for, NULL otherwise. */
const od_proto_api_t *od_proto_api(int16_t key);
/* All of them, sorted by key (for ApiVersions); *n gets the count. */
const od_proto_api_t *od_proto_apis(size_t *n);
/* 1 if the request at (key, version) is a supported flexible version. */
int od_proto_request_flexible(int16_t key, int16_t version);
/* Response header version, 0 or 1 (ApiVersions is always 0). */
int od_proto_response_header_version(int16_t key, int16_t version);

typedef struct od_request_header {
    int16_t api_key, api_version;
    int32_t correlation_id;
    od_str_t client_id; /* borrowed, len -1 null */
} od_request_header_t;

/* Reads header v1 and, for supported flexible versions, the v2 tagged
 * section. An unknown key or version still returns 0 (fields filled, no
 * tags read); -1 only if the bytes are too short or malformed. */
int od_request_header_decode(od_slice_t *s, od_request_header_t *h);
/* correlation id, plus an empty tagged section for response header v1. */
void od_response_header_encode(od_wbuf_t *w, int16_t key, int16_t version,
                               int32_t correlation_id);
/* Decodes a request body of api `key` at `version` into a struct allocated
 * in the arena (od_<Name>Request_t); NULL if unknown or malformed. */
void *od_proto_decode_request(int16_t key, int16_t version, od_slice_t *s, od_arena_t *a);
/* The same for a response body (od_<Name>Response_t), for the core's own
 * outbound client (od_peer). */
void *od_proto_decode_response(int16_t key, int16_t version, od_slice_t *s, od_arena_t *a);

/* KRaft metadata record framing: unsigned varint api key, unsigned varint
 * version, then the record body. peek returns 0, or -1 if malformed. */
int od_metarec_peek(od_slice_t *s, int16_t *api_key, int16_t *version);
void od_metarec_frame(od_wbuf_t *w, int16_t api_key, int16_t version);

const char *od_err_name(int16_t code);    /* "UNKNOWN" for unknown codes */
const char *od_err_message(int16_t code); /* "UNKNOWN" for unknown codes */
'''

C_FIXED = r'''
const od_proto_api_t *od_proto_api(int16_t key)
{
    size_t i;
    for (i = 0; i < sizeof apis / sizeof apis[0]; i++)
        if (apis[i].key == key)
            return &apis[i];
    return NULL;
}

const od_proto_api_t *od_proto_apis(size_t *n)
{
    *n = sizeof apis / sizeof apis[0];
    return apis;
}

int od_proto_request_flexible(int16_t key, int16_t version)
{
    const od_proto_api_t *a = od_proto_api(key);
    return a && version >= a->min_ver && version <= a->max_ver && a->flex_from >= 0 &&
           version >= a->flex_from;
}

int od_proto_response_header_version(int16_t key, int16_t version)
{
    const od_proto_api_t *a = od_proto_api(key);
    int16_t from = response_flex_from(key);
    if (key == OD_API_API_VERSIONS || !a || version < a->min_ver || version > a->max_ver)
        return 0;
    return from >= 0 && version >= from;
}

int od_request_header_decode(od_slice_t *s, od_request_header_t *h)
{
    h->api_key = od_read_i16(s);
    h->api_version = od_read_i16(s);
    h->correlation_id = od_read_i32(s);
    h->client_id = od_read_str(s, 1); /* never compact, also in header v2 */
    if (s->err)
        return -1;
    if (od_proto_request_flexible(h->api_key, h->api_version))
        skip_tags(s);
    return s->err ? -1 : 0;
}

void od_response_header_encode(od_wbuf_t *w, int16_t key, int16_t version,
                               int32_t correlation_id)
{
    od_write_i32(w, correlation_id);
    if (od_proto_response_header_version(key, version) == 1)
        od_write_uvarint(w, 0);
}

int od_metarec_peek(od_slice_t *s, int16_t *api_key, int16_t *version)
{
    uint32_t k = od_read_uvarint(s), v = od_read_uvarint(s);
    if (s->err || k > INT16_MAX || v > INT16_MAX) {
        s->err = 1;
        return -1;
    }
    *api_key = (int16_t)k;
    *version = (int16_t)v;
    return 0;
}

void od_metarec_frame(od_wbuf_t *w, int16_t api_key, int16_t version)
{
    od_write_uvarint(w, (uint16_t)api_key);
    od_write_uvarint(w, (uint16_t)version);
}
'''


def api_name(msg):
    return msg.name[:-len('Request')] if msg.name.endswith('Request') else msg.name


def gen_header(msgs, errors, outbase='od_proto_gen'):
    h = Out()
    h('/* ' + outbase + '.h - GENERATED by scripts/odgen.py from core/proto/schema/ (.ods files).')
    h(' * Do not edit; see doc/protocol-schemas.md. */')
    h('#ifndef %s_H' % outbase.upper())
    h('#define %s_H' % outbase.upper())
    h()
    h('#include <stddef.h>')
    h('#include <stdint.h>')
    h()
    h('#include "od_arena.h"')
    h('#include "od_buf.h"')
    h('#include "odradek-module.h"')
    h(H_FIXED.rstrip('\n'))
    h()
    h('/* Api keys. */')
    for m in msgs:
        if m.kind == 'request':
            h('#define OD_API_%s %d' % (upper_snake(api_name(m)), m.key))
    h()
    h('/* KRaft metadata record types. */')
    for m in msgs:
        if m.kind == 'metadata':
            base = m.name[:-len('Record')] if m.name.endswith('Record') else m.name
            h('#define OD_METAREC_%s %d' % (upper_snake(base), m.key))
    h()
    h('enum od_err_code {')
    for code, name, _, _ in errors:
        h('    OD_ERR_%s = %d,' % (name, code))
    h('};')
    for m in msgs:
        h()
        h('/* ---- %s (%s%s, versions %d-%d) ---- */' %
          (m.name, m.kind, ' %d' % m.key if m.key is not None else '', m.lo, m.hi))
        for st in struct_order(m) + [m.top]:
            h('typedef struct od_%s {' % st.cname)
            if not st.fields:
                h('    int8_t unused_; /* no fields */')
            for f in st.fields:
                for d in member_decls(f):
                    h('    ' + d)
            h('} %s;' % st.ctype)
        for st in struct_order(m):
            h('void %s(%s *m);' % (fn_init(st), st.ctype))
        t = m.top.ctype
        h('void od_%s_init(%s *m);' % (m.name, t))
        h('int od_%s_decode(od_slice_t *s, int16_t version, od_arena_t *a, %s *out);' % (m.name, t))
        h('void od_%s_encode(od_wbuf_t *w, int16_t version, const %s *in);' % (m.name, t))
    h()
    gen_test_support(h, msgs)
    h('#endif')
    return h.text()


def gen_decode_any(c, fn, group):
    """od_proto_decode_request/response: decode by api key into the arena."""
    c('void *od_proto_decode_%s(int16_t key, int16_t version, od_slice_t *s, od_arena_t *a)' % fn)
    c('{')
    c('    switch (key) {')
    for m in group:
        c('    case %d: {' % m.key)
        c('        %s *m;' % m.top.ctype)
        c('        if (version < %d || version > %d)' % (m.lo, m.hi))
        c('            return NULL;')
        c('        m = od_arena_alloc(a, sizeof *m);')
        c('        if (!m || od_%s_decode(s, version, a, m) < 0)' % m.name)
        c('            return NULL;')
        c('        return m;')
        c('    }')
    c('    default:')
    c('        return NULL;')
    c('    }')
    c('}')
    c()


def gen_source(msgs, errors, outbase='od_proto_gen'):
    c = Out()
    c('/* ' + outbase + '.c - GENERATED by scripts/odgen.py from core/proto/schema/ (.ods files).')
    c(' * Do not edit; see doc/protocol-schemas.md. */')
    c('#include "%s.h"' % outbase)
    c()
    c('#include <stdlib.h>')
    c('#include <string.h>')
    c(C_HELPERS.rstrip('\n'))
    for m in msgs:
        need = needs_is_default(m)
        c()
        c('/* ---- %s ---- */' % m.name)
        c()
        for st in struct_order(m) + [m.top]:
            gen_struct_code(m, st, c, need)
        c('int od_%s_decode(od_slice_t *s, int16_t version, od_arena_t *a, %s *out)'
          % (m.name, m.top.ctype))
        c('{')
        c('    if (version < %d || version > %d) {' % (m.lo, m.hi))
        c('        od_%s_init(out);' % m.name)
        c('        return -1;')
        c('    }')
        c('    %s(s, version, a, out);' % fn_dec(m.top))
        c('    return s->err ? -1 : 0;')
        c('}')
        c()
        c('void od_%s_encode(od_wbuf_t *w, int16_t version, const %s *in)' % (m.name, m.top.ctype))
        c('{')
        c('    if (version < %d || version > %d) {' % (m.lo, m.hi))
        c('        w->err = 1; /* a version we have no schema for */')
        c('        return;')
        c('    }')
        c('    %s(w, version, in);' % fn_enc(m.top))
        c('}')
    c()
    reqs = [m for m in msgs if m.kind == 'request']
    resps = {m.key: m for m in msgs if m.kind == 'response'}
    # The versions an API can be spoken in: those both its request and its
    # response schema cover. od_dispatch.c advertises these (ApiVersions),
    # lowered only where a handler caps them.
    for m in reqs:
        if m.key not in resps:
            sys.exit('odgen: %s (key %d) has no response schema' % (m.name, m.key))
    c('static const od_proto_api_t apis[] = {')
    for m in reqs:
        r = resps[m.key]
        lo, hi = max(m.lo, r.lo), min(m.hi, r.hi)
        if lo > hi:
            sys.exit('odgen: %s and %s share no version' % (m.name, r.name))
        c('    {%d, "%s", %d, %d, %d},' % (m.key, api_name(m), lo, hi,
                                         m.flex[0] if m.flex else -1))
    c('};')
    c()
    c('static int16_t response_flex_from(int16_t key)')
    c('{')
    c('    switch (key) {')
    for m in reqs:
        r = resps[m.key]
        c('    case %d:' % m.key)
        c('        return %d;' % (r.flex[0] if r.flex else -1))
    c('    default:')
    c('        return -1;')
    c('    }')
    c('}')
    c(C_FIXED.rstrip('\n'))
    c()
    for fn, group in (('request', reqs), ('response', [resps[m.key] for m in reqs])):
        gen_decode_any(c, fn, group)
    for fn, idx in (('name', 1), ('message', 2)):
        c()
        c('const char *od_err_%s(int16_t code)' % fn)
        c('{')
        c('    switch (code) {')
        for e in errors:
            c('    case %d:' % e[0])
            c('        return %s;' % c_string(e[idx]))
        c('    default:')
        c('        return "UNKNOWN";')
        c('    }')
        c('}')
    return c.text()


def gen_test_support(h, msgs):
    """Static fillers and a message table for tests and the fuzzer."""
    h('#ifdef OD_PROTO_TESTING')
    h('/* Test support: fill a message with pseudo-random values valid for a')
    h(' * version (strings/arrays in the arena), and a table of all messages. */')
    h(r'''#define ODT_UNUSED __attribute__((unused))
static ODT_UNUSED uint32_t odt_rand(uint32_t *sd)
{
    uint32_t x = *sd ? *sd : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *sd = x;
}

static ODT_UNUSED od_bytes_t odt_bytes(od_arena_t *a, uint32_t *sd, int nullable)
{
    od_bytes_t b;
    uint8_t *p;
    int32_t i;
    b.p = NULL;
    b.len = -1;
    if (nullable && odt_rand(sd) % 4 == 0)
        return b;
    b.len = (int32_t)(odt_rand(sd) % 12);
    p = od_arena_alloc(a, (size_t)b.len + 1);
    for (i = 0; p && i < b.len; i++)
        p[i] = (uint8_t)('a' + odt_rand(sd) % 26);
    b.p = p;
    return b;
}

static ODT_UNUSED od_str_t odt_str(od_arena_t *a, uint32_t *sd, int nullable)
{
    od_bytes_t b = odt_bytes(a, sd, nullable);
    od_str_t s;
    s.p = (const char *)b.p;
    s.len = b.len;
    return s;
}

static ODT_UNUSED od_uuid_t odt_uuid(uint32_t *sd)
{
    od_uuid_t u;
    int i;
    for (i = 0; i < 16; i++)
        u.b[i] = (uint8_t)odt_rand(sd);
    return u;
}

static ODT_UNUSED od_records_t odt_records(od_arena_t *a, uint32_t *sd, int nullable)
{
    od_bytes_t b = odt_bytes(a, sd, nullable);
    od_records_t r;
    r.p = b.p;
    r.len = b.len;
    r.read = NULL;
    return r;
}

typedef struct odt_msg {
    const char *name, *kind;
    int16_t key, min_ver, max_ver;
    size_t size;
    void (*init)(void *m);
    int (*decode)(od_slice_t *s, int16_t v, od_arena_t *a, void *m);
    void (*encode)(od_wbuf_t *w, int16_t v, const void *m);
    void (*fill)(void *m, int16_t v, od_arena_t *a, uint32_t *sd);
} odt_msg_t;
''')
    for m in msgs:
        for st in struct_order(m) + [m.top]:
            gen_fill(m, st, h)
        n = m.name
        h('static void odt_init_%s(void *m) { od_%s_init((%s *)m); }' % (n, n, m.top.ctype))
        h('static int odt_decode_%s(od_slice_t *s, int16_t v, od_arena_t *a, void *m)' % n)
        h('{')
        h('    return od_%s_decode(s, v, a, (%s *)m);' % (n, m.top.ctype))
        h('}')
        h('static void odt_encode_%s(od_wbuf_t *w, int16_t v, const void *m)' % n)
        h('{')
        h('    od_%s_encode(w, v, (const %s *)m);' % (n, m.top.ctype))
        h('}')
        h('static void odt_fill_%s_(void *m, int16_t v, od_arena_t *a, uint32_t *sd)' % n)
        h('{')
        h('    odt_fill_%s((%s *)m, v, a, sd);' % (n, m.top.ctype))
        h('}')
        h()
    h('static ODT_UNUSED const odt_msg_t odt_msgs[] = {')
    for m in msgs:
        h('    {"%s", "%s", %d, %d, %d, sizeof(%s), odt_init_%s, odt_decode_%s, odt_encode_%s,'
          % (m.name, m.kind, m.key if m.key is not None else -1, m.lo, m.hi, m.top.ctype,
             m.name, m.name, m.name))
        h('     odt_fill_%s_},' % m.name)
    h('};')
    h('#define ODT_NMSGS (sizeof odt_msgs / sizeof odt_msgs[0])')
    h('#endif /* OD_PROTO_TESTING */')
    h()


def gen_fill(msg, st, h):
    h('static void odt_fill_%s(%s *o, int16_t v, od_arena_t *a, uint32_t *sd)'
      % (st.cname, st.ctype))
    h('{')
    if any(f.array for f in st.fields):
        h('    int32_t i;')
    h('    (void)v;')
    h('    (void)a;')
    h('    (void)sd;')
    h('    %s(o);' % fn_init(st))
    for f in st.fields:
        cd = cond_set(msg, vset(msg, lambda v, f=f: inr(f.versions, v)))
        if cd == '0':
            continue
        nul = nullable_expr(msg, f, False)
        lhs = 'o->' + f.cname
        body = []
        if f.array:
            body += ['if (%s && odt_rand(sd) %% 4 == 0) {' % nul,
                     '    %s_count = -1;' % lhs,
                     '} else {',
                     '    %s_count = (int32_t)(odt_rand(sd) %% 4);' % lhs,
                     '    %s = od_arena_calloc(a, (size_t)%s_count + 1, sizeof *%s);'
                     % (lhs, lhs, lhs),
                     '    for (i = 0; %s && i < %s_count; i++) {' % (lhs, lhs)]
            body += ['        ' + x for x in fill_scalar(f, lhs + '[i]', '0')]
            body += ['    }', '}']
        else:
            body = fill_scalar(f, lhs, nul)
        h('    if (%sodt_rand(sd) %% 8 != 0) {' % ('(%s) && ' % cd if cd else ''))
        for x in body:
            h('        ' + x)
        h('    }')
    h('}')
    h()


def fill_scalar(f, lhs, nul):
    p = f.prim
    if f.struct:
        return ['odt_fill_%s(&%s, v, a, sd);' % (f.struct.cname, lhs)]
    if p == 'bool':
        return ['%s = (int8_t)(odt_rand(sd) & 1);' % lhs]
    if p == 'float64':
        return ['%s = (double)(int32_t)odt_rand(sd) / 4.0;' % lhs]
    if p == 'int64':
        return ['%s = (int64_t)(((uint64_t)odt_rand(sd) << 32) | odt_rand(sd));' % lhs]
    if p in ('int8', 'int16', 'int32', 'uint16', 'uint32'):
        return ['%s = (%s)odt_rand(sd);' % (lhs, PRIM[p][0])]
    if p == 'uuid':
        return ['%s = odt_uuid(sd);' % lhs]
    if p == 'string':
        return ['%s = odt_str(a, sd, %s);' % (lhs, nul)]
    if p == 'bytes':
        return ['%s = odt_bytes(a, sd, %s);' % (lhs, nul)]
    return ['%s = odt_records(a, sd, %s);' % (lhs, nul)]


KIND_ORDER = {'request': 0, 'response': 0, 'metadata': 1, 'data': 2}


def main():
    ap = argparse.ArgumentParser(description='Generate od_proto_gen.[ch] from .ods schemas')
    ap.add_argument('--out-dir', required=True)
    ap.add_argument('--name', default='od_proto_gen')
    ap.add_argument('schemas', nargs='+')
    args = ap.parse_args()
    msgs, errors = [], []
    try:
        for path in args.schemas:
            parse_file(path, msgs, errors)
        for m in msgs:
            resolve(m)
        msgs.sort(key=lambda m: (KIND_ORDER[m.kind], m.key if m.key is not None else 0,
                                 m.kind != 'request', m.name))
        seen = {}
        for m in msgs:
            if m.name in seen:
                raise SchemaError('%s: message %s defined twice' % (m.where, m.name))
            seen[m.name] = m
        reqs = {m.key: m for m in msgs if m.kind == 'request'}
        resps = {m.key: m for m in msgs if m.kind == 'response'}
        if set(reqs) != set(resps):
            raise SchemaError('every request needs a response with the same key and back')
        for k, m in reqs.items():
            if (m.lo, m.hi) != (resps[k].lo, resps[k].hi):
                raise SchemaError('%s: versions differ from %s' % (m.where, resps[k].name))
        errors.sort(key=lambda e: e[0])
        codes = [e[0] for e in errors]
        if len(codes) != len(set(codes)) or len({e[1] for e in errors}) != len(errors):
            raise SchemaError('duplicate error code or name')
        for m in msgs:
            if m.kind in ('request', 'response', 'metadata') and m.key is None:
                raise SchemaError(m.where + ': needs a key')
        header = gen_header(msgs, errors, args.name)
        source = gen_source(msgs, errors, args.name)
    except SchemaError as e:
        sys.stderr.write('odgen: %s\n' % e)
        return 1
    os.makedirs(args.out_dir, exist_ok=True)
    for name, text in ((args.name + '.h', header), (args.name + '.c', source)):
        path = os.path.join(args.out_dir, name)
        tmp = path + '.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write(text)
        os.replace(tmp, path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
