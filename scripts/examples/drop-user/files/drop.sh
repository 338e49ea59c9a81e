# As root: make a folder for the user, then drop to that user (named: setpriv reads
# /etc/passwd and /etc/group), write files as it and read them back.
echo "start: $(id)"
mkdir -p out
chown reproserver-example:reproserver-example out
chmod 750 out
setpriv --reuid=reproserver-example --regid=reproserver-example --init-groups \
  sh -c 'echo "dropped: $(id)"
    echo "written by $(id -un)" > out/note.txt
    mkdir out/sub && echo private > out/sub/secret.txt && chmod 600 out/sub/secret.txt
    cat out/note.txt out/sub/secret.txt
    stat -c "%n %u:%g %U:%G %a" out out/note.txt out/sub out/sub/secret.txt
    if { echo no > /etc/not-root.txt; } 2>/dev/null; then echo "wrote /etc"; else echo "cannot write /etc"; fi'
echo "back: $(id -u)"
stat -c "%n %u:%g" out/note.txt out/sub/secret.txt
