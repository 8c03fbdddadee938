"""What the tasks remember between runs in `.image-tasks/`: the folder and its one writer
(`store`), and the records of builds and audits by image ID that publish trusts (`records`)."""
