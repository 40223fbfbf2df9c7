import { Module } from '@nestjs/common';
import { ReloadService } from './reload.service.js';

/** Process lifecycle of the server: signals (reload now; PID file and the shutdown sequence build on it). */
@Module({ providers: [ReloadService] })
export class DaemonModule {}
