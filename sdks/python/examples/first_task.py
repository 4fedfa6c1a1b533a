import os

from ccgate import Client

with Client(os.environ["CCGATE_URL"], os.environ["CCGATE_API_KEY"]) as client:
    task = client.tasks.create(
        "Summarise notes/todo.txt",
        files={"notes/todo.txt": "Ship the SDKs\n"},
        metadata={"ticket": "DEMO-1"},
    )
    for event in client.tasks.stream(task.id):
        print(event.seq, event.type)
    task = client.tasks.wait(task.id)
    print(task.status, task.result.text)
