#!/usr/bin/env python3
"""Lists the imports of a .wasm module (module.name per line). Used by CI to prove the filter does
not import host functions that ngx_wasm_module lacks (e.g. proxy_get_log_level)."""
import sys


def leb(b, i):
    r = s = 0
    while True:
        x = b[i]
        i += 1
        r |= (x & 0x7F) << s
        s += 7
        if x < 0x80:
            return r, i


def imports(path):
    b = open(path, "rb").read()
    assert b[:4] == b"\0asm", "not a wasm module"
    i = 8
    while i < len(b):
        sid = b[i]
        size, i = leb(b, i + 1)
        end = i + size
        if sid == 2:
            n, i = leb(b, i)
            for _ in range(n):
                ml, i = leb(b, i)
                mod = b[i:i + ml].decode()
                i += ml
                nl, i = leb(b, i)
                name = b[i:i + nl].decode()
                i += nl
                kind = b[i]
                i += 1
                if kind == 0:
                    _, i = leb(b, i)
                elif kind == 1:
                    i += 1
                    flags, i = leb(b, i)
                    _, i = leb(b, i)
                    if flags & 1:
                        _, i = leb(b, i)
                elif kind == 2:
                    flags, i = leb(b, i)
                    _, i = leb(b, i)
                    if flags & 1:
                        _, i = leb(b, i)
                elif kind == 3:
                    i += 2
                yield f"{mod}.{name}"
        i = end


if __name__ == "__main__":
    for imp in imports(sys.argv[1]):
        print(imp)
