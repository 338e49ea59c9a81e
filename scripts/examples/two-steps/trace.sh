# Sourced by scripts/make-examples.sh in the work dir (see its header).
# Two runs (trace, then trace --continue) as the non-root example user, with
# file names that have spaces and non-ASCII characters. Run 2 reads the file
# run 1 wrote, and honours $GREETING.
use_example_user
trace -- sh prepare.sh 'données brutes.txt' 'intermédiaire.txt'
trace --env GREETING=Bonjour -- sh summarise.sh 'intermédiaire.txt' 'résumé final.txt'
set_run_ids prepare summarise
