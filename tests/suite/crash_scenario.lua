-- The process dies from a signal: only this scenario fails.
os.execute("kill -SEGV $PPID")
while true do end
