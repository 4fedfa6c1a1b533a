import { Client } from "@ccgate/client";

const client = new Client({ baseUrl: process.env.CCGATE_URL, apiKey: process.env.CCGATE_API_KEY });
let task = await client.tasks.create("Summarise notes/todo.txt", {
  files: { "notes/todo.txt": "Ship the SDKs\n" },
  metadata: { ticket: "DEMO-1" },
});
for await (const event of client.tasks.stream(task.id)) {
  console.log(event.seq, event.type);
}
task = await client.tasks.wait(task.id);
console.log(task.status, task.result?.text);
