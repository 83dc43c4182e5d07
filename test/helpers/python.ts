/** The Python client's test driver, as a child process the tests talk to. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const DRIVER = fileURLToPath(new URL('../clients/python_driver.py', import.meta.url));

export interface Python {
  ask<T = any>(command: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

/** python3 running test/clients/python_driver.py: one JSON command a line in, one answer a line out. */
export function python(): Python {
  const child: ChildProcessWithoutNullStreams = spawn('python3', [DRIVER], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => waiting.shift()?.(line));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    async ask(command) {
      const line = await new Promise<string>((resolve, reject) => {
        waiting.push(resolve);
        child.once('exit', (code) => reject(new Error(`python3 exited (${code}): ${stderr}`)));
        child.stdin.write(`${JSON.stringify(command)}\n`);
      });
      const answer = JSON.parse(line);
      if (answer.error !== undefined) throw new Error(`${answer.error}\n${stderr}`);
      return answer;
    },
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}
