/**
 * The configuration: typed records ({@link org.zfsbackup.config.AgentConfig}) and the loader that
 * reads, merges (file, then environment, then system properties), binds and validates them. The
 * only package that sees the raw configuration tree: it reads YAML with SnakeYAML, binds with
 * Jackson (no Vert.x Config), and reads the files the configuration names (password, CA), nothing
 * else. Depends on {@code zfs} for naming rules only.
 */
package org.zfsbackup.config;
