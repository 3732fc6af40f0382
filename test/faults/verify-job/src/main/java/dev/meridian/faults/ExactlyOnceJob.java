package dev.meridian.faults;

import java.time.Duration;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.serialization.SimpleStringEncoder;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.util.ratelimit.RateLimiterStrategy;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.file.sink.FileSink;
import org.apache.flink.core.execution.CheckpointingMode;
import org.apache.flink.core.fs.Path;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.filesystem.OutputFileConfig;
import org.apache.flink.streaming.api.functions.sink.filesystem.bucketassigners.BasePathBucketAssigner;
import org.apache.flink.streaming.api.functions.sink.filesystem.rollingpolicies.OnCheckpointRollingPolicy;
import org.apache.flink.util.Collector;

/**
 * The fault campaign's proof that no job state is lost: a deterministic, checkpointed, rate-limited
 * bounded source of the numbers 0..count-1, keyed by {@code i % keys}, a running sum per key in keyed
 * state, and an exactly-once file sink that commits a line {@code key,i,sum} per number on each
 * checkpoint. For every committed line the sum must equal the closed form (the sum of every
 * j &lt;= i with j = key mod keys): a number counted twice makes it larger, a lost one smaller. At the end
 * every number must have a committed line. test/faults/exactly-once.ts checks the output.
 *
 * <p>Arguments: --count N --keys K --rate R (numbers per second) --output DIR [--checkpoint-ms MS].
 */
public final class ExactlyOnceJob {
  private ExactlyOnceJob() {}

  public static void main(String[] args) throws Exception {
    long count = Long.parseLong(arg(args, "--count", null));
    int keys = Integer.parseInt(arg(args, "--keys", null));
    double rate = Double.parseDouble(arg(args, "--rate", null));
    String output = arg(args, "--output", null);
    long checkpointMs = Long.parseLong(arg(args, "--checkpoint-ms", "2000"));
    if (count < 1 || keys < 1 || rate <= 0) {
      throw new IllegalArgumentException("--count and --keys must be >= 1 and --rate > 0");
    }

    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.enableCheckpointing(checkpointMs, CheckpointingMode.EXACTLY_ONCE);
    env.setParallelism(1);

    DataGeneratorSource<Long> source =
        new DataGeneratorSource<>(i -> i, count, RateLimiterStrategy.perSecond(rate), Types.LONG);
    FileSink<String> sink =
        FileSink.forRowFormat(new Path(output), new SimpleStringEncoder<String>("UTF-8"))
            .withBucketAssigner(new BasePathBucketAssigner<>())
            .withRollingPolicy(OnCheckpointRollingPolicy.build())
            .withOutputFileConfig(
                OutputFileConfig.builder().withPartPrefix("sums").withPartSuffix(".csv").build())
            .build();

    env.fromSource(source, WatermarkStrategy.noWatermarks(), "sequence")
        .uid("sequence")
        .keyBy(i -> i % keys)
        .process(new RunningSum(keys))
        .uid("running-sum")
        .sinkTo(sink)
        .uid("sums-file");
    env.execute("meridian-exactly-once");
  }

  private static String arg(String[] args, String name, String fallback) {
    for (int i = 0; i + 1 < args.length; i++) {
      if (args[i].equals(name)) return args[i + 1];
    }
    if (fallback == null) throw new IllegalArgumentException("missing argument " + name);
    return fallback;
  }

  /** Adds each number to its key's sum and emits {@code key,number,sum}. */
  static final class RunningSum extends KeyedProcessFunction<Long, Long, String> {
    private final int keys;
    private transient ValueState<Long> sum;

    RunningSum(int keys) {
      this.keys = keys;
    }

    @Override
    public void open(OpenContext ctx) {
      sum = getRuntimeContext().getState(new ValueStateDescriptor<>("sum", Types.LONG));
    }

    @Override
    public void processElement(Long i, Context ctx, Collector<String> out) throws Exception {
      Long before = sum.value();
      long now = (before == null ? 0L : before) + i;
      sum.update(now);
      out.collect(ctx.getCurrentKey() + "," + i + "," + now);
    }
  }
}
