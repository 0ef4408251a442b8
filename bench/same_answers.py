"""Exits non-zero, saying where, unless two result files hold the same rows
(numbers compared to 9 significant digits: engines print floats differently)."""
import sys


def rows(path):
    out = []
    for line in open(path):
        fields = []
        for field in line.rstrip("\n").split("\t"):
            try:
                fields.append(float(f"{float(field):.9g}"))
            except ValueError:
                fields.append(field)
        out.append(fields)
    return out


a, b = rows(sys.argv[1]), rows(sys.argv[2])
if a != b:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            print(f"   answers differ at line {i + 1}: {x} vs {y}")
            break
    else:
        print(f"   answers differ: {len(a)} vs {len(b)} lines")
    sys.exit(1)
print("   same answers")
