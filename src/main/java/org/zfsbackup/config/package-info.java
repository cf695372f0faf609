/**
 * The configuration: typed records ({@link org.zfsbackup.config.AgentConfig}) and the loader that
 * reads, merges (file, then environment, then system properties), validates and binds them. The
 * only package that sees raw configuration JSON; it touches Vert.x Config and the files the
 * configuration names (password, CA), nothing else. Depends on {@code zfs} for naming rules only.
 */
package org.zfsbackup.config;
