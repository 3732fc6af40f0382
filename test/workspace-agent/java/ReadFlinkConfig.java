// Prints the configuration Flink itself loads from a conf directory (GlobalConfiguration, the same
// code path as a JobManager's start), one entry per line as base64(key) SPACE base64(value), so tests
// compare what Flink reads with what was meant to be written, byte for byte. Run as a single-file
// source program: java -cp "<flink home>/lib/*" ReadFlinkConfig.java <conf dir>
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.TreeMap;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.configuration.GlobalConfiguration;

public class ReadFlinkConfig {
  public static void main(String[] args) {
    Configuration config = GlobalConfiguration.loadConfiguration(args[0]);
    Base64.Encoder b64 = Base64.getEncoder();
    for (Map.Entry<String, String> e : new TreeMap<>(config.toMap()).entrySet()) {
      System.out.println(
          b64.encodeToString(e.getKey().getBytes(StandardCharsets.UTF_8))
              + " "
              + b64.encodeToString(e.getValue().getBytes(StandardCharsets.UTF_8)));
    }
  }
}
