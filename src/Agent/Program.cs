Console.Error.WriteLine("dropboard-agent: not built yet");
return 2;
