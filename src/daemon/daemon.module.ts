import { Module } from '@nestjs/common';
import { NodesService } from './nodes.service.js';
import { ReloadService } from './reload.service.js';

/** Process lifecycle of the server: signals (reload now; PID file and the shutdown sequence build on it), and its row among the nodes. */
@Module({ providers: [ReloadService, NodesService] })
export class DaemonModule {}
