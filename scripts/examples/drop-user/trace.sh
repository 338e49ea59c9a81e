# Sourced by scripts/make-examples.sh in the work dir (see its header).
# Traced as root: the script drops to the named example user with setpriv
# (--init-groups: the user's groups from the package's /etc/group), writes
# files as that user and prints ids and owners. The user must exist here: it
# is made like use_example_user makes it, but the run stays root's.
if is_root && ! id -u "$EXAMPLE_USER" >/dev/null 2>&1; then
  useradd --user-group --create-home --shell /bin/sh "$EXAMPLE_USER" \
    || die "could not create user $EXAMPLE_USER"
fi
trace -- sh drop.sh
