import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { RunEvent } from './entities/run-event.entity.js';
import { RunEventsService } from './run-events.service.js';

/** A run's events: written by the node that runs it, read by every event stream. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([RunEvent])],
  providers: [RunEventsService],
  exports: [RunEventsService],
})
export class RunEventsModule {}
