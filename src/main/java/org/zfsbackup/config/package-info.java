/**
 * The configuration: typed records ({@link org.zfsbackup.config.AgentConfig}) and the loader that
 * reads and merges them with Vert.x Config (file, then environment, then system properties), then
 * binds with Jackson and validates. The only package that sees the raw configuration tree, and it
 * reads only the files the configuration names (password, CA). Depends on {@code zfs} for naming
 * rules only.
 */
package org.zfsbackup.config;
