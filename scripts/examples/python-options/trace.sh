# Sourced by scripts/make-examples.sh in the work dir (see its header).
# python3 is /usr/bin/python3 (PATH is /usr/bin:/bin): the Debian one, not the
# venv's or pyenv's, so its files belong to Debian packages (pyenv's made a
# 12 MB package, Debian's 5 MB). -S skips the site module: without it the
# machine's .pth files and sitecustomize end up in the package. Stdlib only.
[ -x /usr/bin/python3 ] || die "python-options needs /usr/bin/python3 (apt-get install python3-minimal)"
trace -- python3 -S stats.py measurements.csv --column value --scale 2.5 --bins 4
