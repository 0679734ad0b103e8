"""``python -m agents.sandbox env path|status|ensure``: the experiment environment (scripts/setup.sh uses it)."""

import sys

from agents.sandbox.pyenv import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] != "env":
        print("usage: python -m agents.sandbox env path|status|ensure [PATH]", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(args[1:]))
