// Test-only Delta LogStore for tests/test_kill.py: kills the run in the middle of a Delta write.
//
// Delta writes a commit in two phases: the data files (Parquet) first, then the commit file
// _delta_log/<version>.json through the LogStore. With VAXCLEAN_KILL_AT=commit:N (or
// commit:<table name>) this store kills the Python driver (SIGKILL) and halts the JVM just before the
// N-th commit file of the process (or the first commit to that table) is written: the data files of
// that write are on disk, the commit is not. It writes the table path it
// stopped at to $VAXCLEAN_KILL_MARKER first, so the test knows what it interrupted; with
// VAXCLEAN_COMMIT_LOG it appends "<n> <table>" for every commit (to list the points of a run).
import io.delta.storage.HDFSLogStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;

public class KillingLogStore extends HDFSLogStore {
    private static final AtomicInteger COMMITS = new AtomicInteger();

    public KillingLogStore(Configuration conf) {
        super(conf);
    }

    @Override
    public void write(Path path, Iterator<String> actions, Boolean overwrite, Configuration conf)
            throws IOException {
        if (path.getName().matches("\\d{20}\\.json")) {
            int n = COMMITS.incrementAndGet();
            String table = path.getParent().getParent().toUri().getPath();
            String log = System.getenv("VAXCLEAN_COMMIT_LOG");
            if (log != null) {
                Files.write(Paths.get(log), (n + " " + table + "\n").getBytes(StandardCharsets.UTF_8),
                        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            }
            String at = System.getenv("VAXCLEAN_KILL_AT");
            String name = path.getParent().getParent().getName();
            if (("commit:" + n).equals(at) || ("commit:" + name).equals(at)) {
                String marker = System.getenv("VAXCLEAN_KILL_MARKER");
                if (marker != null) {
                    Files.write(Paths.get(marker), (table + "\n").getBytes(StandardCharsets.UTF_8));
                }
                ProcessHandle.current().parent().ifPresent(ProcessHandle::destroyForcibly);
                Runtime.getRuntime().halt(137);
            }
        }
        super.write(path, actions, overwrite, conf);
    }
}
