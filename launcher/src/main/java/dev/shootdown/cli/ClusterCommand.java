package dev.shootdown.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.event.NodeIds;
import dev.shootdown.host.kafka.InfrastructureException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown cluster up|status|down}: the multi-process deployment without Docker. A broker
 * process and every node as its own JVM ({@code shootdown node}) on loopback, ports chosen free,
 * each logging to its own file; {@code DIR/cluster.json} says which processes they are.
 */
@Command(name = "cluster", mixinStandardHelpOptions = true,
        description = "Start, inspect or stop a cluster on this machine: a Kafka broker and every node in its own process.",
        subcommands = {ClusterCommand.Up.class, ClusterCommand.Status.class, ClusterCommand.Restart.class, ClusterCommand.Down.class})
final class ClusterCommand implements Runnable {

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The options every cluster subcommand takes: where the cluster lives, and --verbose. */
    static final class ClusterDir {
        @Option(names = "--dir", defaultValue = "shootdown-cluster", paramLabel = "DIR",
                description = "The cluster's directory: its state file, the processes' logs, the broker's data. Default: ${DEFAULT-VALUE}")
        Path dir;
    }

    /** One process of the cluster, as {@code cluster.json} records it. */
    record Member(String name, long pid, String started, String log, List<String> command) {}

    /** {@code cluster.json}. */
    record State(String bootstrapServers, List<Member> processes) {}

    static final String STATE_FILE = "cluster.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    static State read(Path dir) throws BadInputException {
        Path file = dir.resolve(STATE_FILE);
        if (!Files.isRegularFile(file)) {
            throw new BadInputException("no cluster in " + dir + " (" + file + " does not exist); start one with `shootdown cluster up --dir "
                    + dir + "`");
        }
        try {
            return JSON.readValue(file.toFile(), State.class);
        } catch (IOException e) {
            throw new BadInputException(file + ": not a cluster state file (" + e.getMessage() + ")");
        }
    }

    /** The live process with that pid, if it is still the one the cluster started (its start time: pids are reused). */
    static Optional<ProcessHandle> alive(Member m) {
        return ProcessHandle.of(m.pid()).filter(ProcessHandle::isAlive).filter(p -> !zombie(p.pid()))
                .filter(p -> p.info().startInstant().map(Object::toString).orElse("?").equals(m.started()));
    }

    /**
     * A process that has exited but was not reaped (its parent, the {@code cluster up} that started
     * it, is gone, and PID 1 does not reap in every container) still has a pid: it is dead all the same.
     */
    private static boolean zombie(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", String.valueOf(pid), "stat"));
            int afterName = stat.lastIndexOf(')');
            return afterName > 0 && afterName + 2 < stat.length() && stat.charAt(afterName + 2) == 'Z';
        } catch (IOException | RuntimeException noProcfs) {
            return false;
        }
    }

    @Command(name = "up", mixinStandardHelpOptions = true,
            description = "Start a broker and the coordinator, CPU and IOMMU nodes, each in its own process, and wait until all are ready.")
    static final class Up implements Callable<Integer> {

        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        ClusterDir cluster;

        @Option(names = "--cpus", defaultValue = "3", paramLabel = "N", description = "CPU nodes cpu0..cpuN-1. Default: ${DEFAULT-VALUE}")
        int cpus;

        @Option(names = "--iommus", defaultValue = "1", paramLabel = "N", description = "IOMMU nodes. Default: ${DEFAULT-VALUE}")
        int iommus;

        @Option(names = "--start-timeout", defaultValue = "120", paramLabel = "SECONDS",
                description = "Give up when a process is not ready after this long. Default: ${DEFAULT-VALUE}")
        long startTimeoutSeconds;


        @Override
        public Integer call() throws Exception {
            Path dir = cluster.dir;
            if (cpus < 1 || iommus < 0) {
                throw new BadInputException("--cpus must be at least 1 and --iommus at least 0, were " + cpus + " and " + iommus);
            }
            if (Files.isRegularFile(dir.resolve(STATE_FILE))) {
                State old = read(dir);
                if (old.processes().stream().anyMatch(m -> alive(m).isPresent())) {
                    throw new BadInputException("a cluster is already up in " + dir + "; `shootdown cluster down --dir " + dir + "` first");
                }
            }
            PrintWriter out = spec.commandLine().getOut();
            Path logs = Files.createDirectories(dir.resolve("logs"));
            Duration timeout = Duration.ofSeconds(startTimeoutSeconds);
            List<Member> started = new ArrayList<>();
            List<Process> processes = new ArrayList<>();
            Thread undo = new Thread(() -> processes.forEach(ClusterCommand::stop), "shootdown-cluster-undo");
            Runtime.getRuntime().addShutdownHook(undo); // Ctrl-C while starting stops what was started
            try {
                Member broker = start("broker", List.of("dev.shootdown.broker.EmbeddedKafkaBroker", "--dir",
                        dir.resolve("broker").toAbsolutePath().toString(), "--port", "0"), logs, started, processes);
                String bootstrap = awaitLine(broker, processes.get(0), "bootstrap=", timeout).substring("bootstrap=".length()).trim();
                out.println("broker    pid " + broker.pid() + " at " + bootstrap);
                out.flush();
                List<String> nodes = new ArrayList<>(List.of(NodeIds.COORDINATOR));
                for (int i = 0; i < cpus; i++) {
                    nodes.add("cpu" + i);
                }
                for (int i = 0; i < iommus; i++) {
                    nodes.add("iommu" + i);
                }
                for (String node : nodes) {
                    List<String> args = new ArrayList<>(List.of("-Xmx256m", "dev.shootdown.cli.Shootdown", "node"));
                    if (node.equals(NodeIds.COORDINATOR)) {
                        args.add("coordinator");
                    } else {
                        String kind = node.replaceAll("\\d+$", "");
                        args.addAll(List.of(kind, "--index", node.substring(kind.length())));
                    }
                    args.addAll(List.of("--bootstrap-servers", bootstrap));
                    start(node, args, logs, started, processes);
                }
                for (int i = 1; i < started.size(); i++) {
                    awaitLine(started.get(i), processes.get(i), ": ready on ", timeout);
                    out.printf("%-9s pid %d, log %s%n", started.get(i).name(), started.get(i).pid(), started.get(i).log());
                    out.flush();
                }
                JSON.writeValue(dir.resolve(STATE_FILE).toFile(), new State(bootstrap, started));
                Runtime.getRuntime().removeShutdownHook(undo);
                out.println("cluster up: " + started.size() + " processes; state in " + dir.resolve(STATE_FILE));
                out.println("run a scenario on it: shootdown run --scenario munmap-dma --bootstrap-servers " + bootstrap
                        + " --nodes cluster");
                out.flush();
                return Shootdown.EXIT_CLEAN;
            } catch (InfrastructureException | IOException | RuntimeException e) {
                processes.forEach(ClusterCommand::stop);
                Runtime.getRuntime().removeShutdownHook(undo);
                throw e;
            }
        }

        private static Member start(String name, List<String> args, Path logs, List<Member> started, List<Process> processes)
                throws IOException {
            List<String> command = new ArrayList<>();
            command.add(javaBin());
            int main = args.indexOf(args.stream().filter(a -> a.startsWith("dev.shootdown.")).findFirst().orElseThrow());
            command.addAll(args.subList(0, main));
            command.addAll(List.of("-cp", System.getProperty("java.class.path")));
            command.addAll(args.subList(main, args.size()));
            Path log = logs.resolve(name + ".log").toAbsolutePath();
            Process p = launch(command, ProcessBuilder.Redirect.to(log.toFile()));
            processes.add(p);
            Member m = member(name, p, log.toString(), command);
            started.add(m);
            return m;
        }

        /** The first line of {@code m}'s log that contains {@code marker}; fails, with the log's tail, if the process ends or time runs out. */
        private static String awaitLine(Member m, Process p, String marker, Duration timeout) throws InfrastructureException,
                IOException, InterruptedException {
            return awaitLine(m, p, marker, timeout, 0);
        }

        /** As above, looking only after the first {@code skip} lines (a restart appends to the log). */
        static String awaitLine(Member m, Process p, String marker, Duration timeout, long skip) throws InfrastructureException,
                IOException, InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            Path log = Path.of(m.log());
            while (System.nanoTime() < deadline) {
                if (Files.exists(log)) {
                    for (String line : Files.readAllLines(log, StandardCharsets.UTF_8).stream().skip(skip).toList()) {
                        if (line.contains(marker)) {
                            return line.substring(line.indexOf(marker));
                        }
                    }
                }
                if (!p.isAlive()) {
                    throw new InfrastructureException(m.name() + " (pid " + m.pid() + ") exited with status " + p.exitValue()
                            + " before it was ready; " + tail(log));
                }
                TimeUnit.MILLISECONDS.sleep(100);
            }
            throw new InfrastructureException(m.name() + " (pid " + m.pid() + ") was not ready within " + timeout.toSeconds() + " s; "
                    + tail(log));
        }
    }

    /** A subcommand on a running cluster: its directory, the state {@code up} wrote there, and where to print. */
    abstract static class OnCluster implements Callable<Integer> {

        @Spec
        CommandSpec spec;

        @picocli.CommandLine.Mixin
        ClusterDir cluster;

        @Override
        public final Integer call() throws Exception {
            return call(cluster.dir, read(cluster.dir), spec.commandLine().getOut());
        }

        abstract Integer call(Path dir, State state, PrintWriter out) throws Exception;
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Say which of the cluster's processes are alive.")
    static final class Status extends OnCluster {

        @Override
        Integer call(Path dir, State state, PrintWriter out) throws Exception {
            out.println("bootstrap " + state.bootstrapServers());
            int dead = 0;
            for (Member m : state.processes()) {
                boolean up = alive(m).isPresent();
                dead += up ? 0 : 1;
                out.printf("%-9s pid %-7d %s%s%n", m.name(), m.pid(), up ? "up" : "DEAD (see " + m.log() + ")",
                        up && !m.name().equals("broker") ? health(m) : "");
            }
            out.println(dead == 0 ? "all " + state.processes().size() + " processes up" : dead + " of " + state.processes().size()
                    + " processes down");
            out.flush();
            return dead == 0 ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_INFRASTRUCTURE;
        }
    }

    /** What a node's /health says, in a few words: ready, its runs, the runs it failed in, the peers it reports dead. */
    static String health(Member m) {
        try {
            List<String> lines = Files.readAllLines(Path.of(m.log()), StandardCharsets.UTF_8);
            String http = null;
            for (String line : lines) {
                int at = line.indexOf(", http ");
                if (line.contains(": ready on ") && at > 0) {
                    http = line.substring(at + ", http ".length()).strip();
                }
            }
            if (http == null) {
                return ", not ready";
            }
            java.net.http.HttpResponse<String> r = java.net.http.HttpClient.newHttpClient().send(
                    java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://" + http + "/health"))
                            .timeout(Duration.ofSeconds(3)).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            com.fasterxml.jackson.databind.JsonNode h = JSON.readTree(r.body());
            List<String> deadPeers = new ArrayList<>();
            h.path("peers").fields().forEachRemaining(p -> {
                if (p.getValue().asText().equals("dead")) {
                    deadPeers.add(p.getKey());
                }
            });
            int failed = h.path("failed").size();
            return ", " + (h.path("ready").asBoolean() ? "ready" : "not ready") + ", in " + h.path("runs").size() + " run(s)"
                    + (failed == 0 ? "" : ", failed in " + failed + " run(s) (its /health says why)")
                    + (deadPeers.isEmpty() ? "" : ", reports dead: " + String.join(", ", deadPeers)) + " (http " + http + ")";
        } catch (IOException e) {
            return ", /health unreachable (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        } catch (RuntimeException e) {
            return ", /health unreadable";
        }
    }

    @Command(name = "restart", mixinStandardHelpOptions = true,
            description = "Start a node of the cluster again, as a new process (after it died or was killed); it rejoins the runs in progress.")
    static final class Restart extends OnCluster {

        @picocli.CommandLine.Parameters(index = "0", paramLabel = "NODE", description = "The node: coordinator, cpu1, iommu0...")
        String node;

        @Option(names = "--start-timeout", defaultValue = "120", paramLabel = "SECONDS",
                description = "Give up when it is not ready after this long. Default: ${DEFAULT-VALUE}")
        long startTimeoutSeconds;


        @Override
        Integer call(Path dir, State state, PrintWriter out) throws Exception {
            List<Member> members = new ArrayList<>(state.processes());
            int at = -1;
            for (int i = 0; i < members.size(); i++) {
                if (members.get(i).name().equals(node)) {
                    at = i;
                }
            }
            if (at < 0 || node.equals("broker")) {
                throw new BadInputException("no node " + node + " in the cluster in " + dir + "; its nodes are "
                        + members.stream().map(Member::name).filter(n -> !n.equals("broker")).toList());
            }
            Member old = members.get(at);
            if (alive(old).isPresent()) {
                throw new BadInputException(node + " is running (pid " + old.pid() + "); stop it first");
            }
            Path log = Path.of(old.log());
            long before = Files.exists(log) ? Files.readAllLines(log, StandardCharsets.UTF_8).size() : 0;
            Process p = launch(old.command(), ProcessBuilder.Redirect.appendTo(log.toFile()));
            Member restarted = member(node, p, old.log(), old.command());
            Up.awaitLine(restarted, p, ": ready on ", Duration.ofSeconds(startTimeoutSeconds), before);
            members.set(at, restarted);
            JSON.writeValue(dir.resolve(STATE_FILE).toFile(), new State(state.bootstrapServers(), members));
            out.println(node + " restarted: pid " + p.pid() + ", log " + old.log());
            out.flush();
            return Shootdown.EXIT_CLEAN;
        }
    }

    @Command(name = "down", mixinStandardHelpOptions = true,
            description = "Stop the cluster's processes: the nodes first (they leave their runs cleanly), then the broker.")
    static final class Down extends OnCluster {

        @Override
        Integer call(Path dir, State state, PrintWriter out) throws Exception {
            List<Member> reversed = new ArrayList<>(state.processes());
            java.util.Collections.reverse(reversed);
            int stopped = 0;
            for (Member m : reversed) {
                Optional<ProcessHandle> p = alive(m);
                if (p.isPresent()) {
                    stop(p.get());
                    stopped++;
                }
            }
            Files.delete(dir.resolve(STATE_FILE));
            out.println("cluster down: stopped " + stopped + " of " + state.processes().size()
                    + " processes; logs and the broker's data stay in " + dir);
            out.flush();
            return Shootdown.EXIT_CLEAN;
        }
    }

    /** A process of the cluster: its output to its log, no input, outliving this command. */
    private static Process launch(List<String> command, ProcessBuilder.Redirect log) throws IOException {
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    }

    private static Member member(String name, Process p, String log, List<String> command) {
        return new Member(name, p.pid(), p.info().startInstant().map(Object::toString).orElse("?"), log, command);
    }

    private static void stop(Process p) {
        stop(p.toHandle());
    }

    /** SIGTERM, 30 s to exit cleanly, then SIGKILL. */
    private static void stop(ProcessHandle p) {
        p.destroy();
        try {
            p.onExit().get(30, TimeUnit.SECONDS);
        } catch (Exception notInTime) {
            p.destroyForcibly();
        }
    }

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static String tail(Path log) throws IOException {
        if (!Files.exists(log)) {
            return "no log at " + log;
        }
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        return "last lines of " + log + ": " + String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
    }
}
