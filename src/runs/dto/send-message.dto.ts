import { IsString, Matches } from 'class-validator';
import { MaxUtf8Bytes, MultiLineText } from '../../common/text-input.js';
import { MAX_PROMPT_BYTES } from './submit-run.dto.js';

/** Body of `POST /api/v1/runs/:id/messages`. */
export class SendMessageDto {
  /** What the agent is to do next: at most 100,000 bytes of UTF-8, not only whitespace; tab, LF and CR are its only control characters. */
  @IsString() @MultiLineText() @Matches(/\S/, { message: 'prompt must not be empty or only whitespace' })
  @MaxUtf8Bytes(MAX_PROMPT_BYTES)
  prompt: string;
}
