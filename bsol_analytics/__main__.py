"""Allow ``python -m bsol_analytics``."""

from bsol_analytics.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
