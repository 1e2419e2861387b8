package io.github.orchestrator.javaworker;

import com.netflix.conductor.client.automator.TaskRunnerConfigurer;
import com.netflix.conductor.client.http.TaskClient;
import com.netflix.conductor.client.worker.Worker;
import com.netflix.conductor.common.metadata.tasks.Task;
import com.netflix.conductor.common.metadata.tasks.TaskResult;
import io.orkes.conductor.client.ApiClient;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Polls one task type over Conductor's HTTP protocol with the stock Java SDK and completes
 * each task with {"doubled": 2 * n, "worker": "java"}; exits 0 after COUNT tasks, 1 if they
 * did not come within 120 s.
 *
 * <p>Environment: CONDUCTOR_SERVER_URL (http://host:port/api), CONDUCTOR_AUTH_KEY and
 * CONDUCTOR_AUTH_SECRET (a worker key's id and secret, exchanged for a token at POST
 * /api/token by the SDK), TASK_TYPE, COUNT.
 */
public final class JavaWorker {
  private JavaWorker() {}

  public static void main(String[] args) throws InterruptedException {
    String taskType = System.getenv("TASK_TYPE");
    int count = Integer.parseInt(System.getenv("COUNT"));
    ApiClient client =
        ApiClient.builder()
            .basePath(System.getenv("CONDUCTOR_SERVER_URL"))
            .credentials(System.getenv("CONDUCTOR_AUTH_KEY"), System.getenv("CONDUCTOR_AUTH_SECRET"))
            .build();
    CountDownLatch done = new CountDownLatch(count);
    Worker worker =
        new Worker() {
          @Override
          public String getTaskDefName() {
            return taskType;
          }

          @Override
          public TaskResult execute(Task task) {
            TaskResult result = new TaskResult(task);
            Number n = (Number) task.getInputData().get("n");
            result.addOutputData("doubled", n.longValue() * 2);
            result.addOutputData("worker", "java");
            result.setStatus(TaskResult.Status.COMPLETED);
            System.out.println("java worker: completed " + task.getTaskId());
            done.countDown();
            return result;
          }

          @Override
          public int getPollingInterval() {
            return 100;
          }
        };
    TaskRunnerConfigurer runner =
        new TaskRunnerConfigurer.Builder(new TaskClient(client), List.of(worker))
            .withThreadCount(2)
            .withShutdownGracePeriodSeconds(5)
            .build();
    runner.init();
    boolean all = done.await(120, TimeUnit.SECONDS);
    Thread.sleep(1000); // the last result is sent after execute() returns
    runner.shutdown();
    System.out.println("java worker: " + (count - done.getCount()) + " of " + count + " tasks");
    System.exit(all ? 0 : 1);
  }
}
