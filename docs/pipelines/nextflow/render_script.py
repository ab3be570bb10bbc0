#!/usr/bin/env python3
"""Render a Nextflow process's script, stub or versions eval as the bash a task would run.

    render_script.py MAIN_NF PROCESS script|stub|eval [EXPR=VALUE]...

Nextflow cannot be installed where protmask's CI runs, so docs/pipelines/test.sh takes the
command straight out of main.nf with this and runs it: the text tested is the text shipped.
It reads the first triple-quoted string after `script:` or `stub:` in PROCESS (or the
eval("...") of its output block), undoes Groovy's escapes (\\\\ -> \\, \\$ -> $) and
replaces each ${EXPR} or $EXPR by the VALUE given for EXPR on the command line. An
interpolation without a value is an error, so a new variable in main.nf cannot slip by.
"""
import re
import sys


def process_body(text, name):
    m = re.search(r"^process\s+" + re.escape(name) + r"\s*\{", text, re.M)
    if not m:
        sys.exit(f"render_script.py: no process {name}")
    depth, i = 1, m.end()
    while depth:
        c = text[i]
        depth += c == "{"
        depth -= c == "}"
        i += 1
    return text[m.end():i - 1]


def render(template, values):
    out, i = [], 0
    while i < len(template):
        c = template[i]
        if c == "\\" and i + 1 < len(template):
            out.append(template[i + 1])
            i += 2
        elif c == "$" and template.startswith("${", i):
            j = template.index("}", i)
            expr = template[i + 2:j].strip()
            if expr not in values:
                sys.exit(f"render_script.py: no value given for ${{{expr}}}")
            out.append(values[expr])
            i = j + 1
        elif c == "$" and re.match(r"[A-Za-z_]", template[i + 1:i + 2]):
            m = re.match(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", template[i + 1:])
            expr = m.group(0)
            if expr not in values:
                sys.exit(f"render_script.py: no value given for ${expr}")
            out.append(values[expr])
            i += 1 + len(expr)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, proc, section = argv[1:4]
    values = dict(a.split("=", 1) for a in argv[4:])
    body = process_body(open(path, encoding="utf-8").read(), proc)
    if section == "eval":
        m = re.search(r'eval\("((?:[^"\\]|\\.)*)"\)', body)
        if not m:
            sys.exit(f"render_script.py: no eval(...) in {proc}")
        print(render(m.group(1), values))
        return 0
    m = re.search(r"^\s*" + section + r":\s*$(.*?)\"\"\"(.*?)\"\"\"", body, re.M | re.S)
    if not m:
        sys.exit(f"render_script.py: no {section}: block in {proc}")
    print(render(m.group(2), values), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
