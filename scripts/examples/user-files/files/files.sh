# As the recorded non-root user: write files, read them back, print their owners.
echo "uid: $(id -u) gid: $(id -g)"
mkdir -p made
echo "hello from $(id -un)" > made/a.txt
chmod 640 made/a.txt
cp made/a.txt made/b.txt
cat made/a.txt made/b.txt
stat -c "%n %u:%g %a" made made/a.txt made/b.txt files.sh
touch /tmp/user-files-tmp.txt
stat -c "%n %u:%g" /tmp/user-files-tmp.txt
