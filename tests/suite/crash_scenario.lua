-- The process dies from a signal (SIGABRT, as a failed assert): only this scenario fails.
os.execute("kill -ABRT $PPID")  -- as a failed C assert() would
while true do end
