#!/usr/bin/env node
import 'reflect-metadata';
import { loadConfiguration } from './config/configuration.js';
import { exitWithStartupError, loadEnvFile, startServer } from './server.js';

try {
  loadEnvFile();
  await startServer(loadConfiguration());
} catch (error) {
  exitWithStartupError(error);
}
