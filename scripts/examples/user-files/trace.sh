# Sourced by scripts/make-examples.sh in the work dir (see its header).
# Traced as the non-root example user: writes files in its work dir and /tmp,
# reads them back and prints their owners.
use_example_user
trace -- sh files.sh
