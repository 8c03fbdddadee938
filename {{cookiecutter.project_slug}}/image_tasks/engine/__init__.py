"""The container engines: which can build with secret mounts (`detect`), their commands
(`commands`), saving an image for the audit (`save`), the containers a task starts and must
remove (`containers`), and what official base images' tags say (`base_images`)."""
